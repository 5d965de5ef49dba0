import Foundation
import ImagePrepBuild
import ImagePrepConcurrency
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// What `imageprep image inspect` prints.
public struct ImageInspection: Sendable, Encodable {
    public struct Layer: Sendable, Encodable {
        public var digest: String
        public var size: Int64
        public var mediaType: String
    }

    public var name: String
    public var digest: String
    public var mediaType: String
    /// Every tag of the image's repository, as the registry lists them.
    public var repositoryTags: [String]
    public var created: String?
    public var dockerVersion: String?
    public var env: [String]
    /// The manifest list the image was picked from, if any.
    public var indexDigest: String?
    public var architecture: String?
    public var os: String?
    public var user: String?
    public var labels: [String: String]
    public var layers: [Layer]
    public var size: Int64
}

/// The image commands (`image list/inspect/copy/delete`) and one-image
/// modification, over one registry client.
public struct ImageOperations: Sendable {
    let client: RegistryClient
    let options: RegistryOptions
    let modification: ModificationOptions
    let destinations: DestinationRouter
    /// registries.conf: blocked registries and mirrors for the images read (copy and
    /// modify sources).
    let sources: PullSources

    public init(options: RegistryOptions, modification: ModificationOptions = ModificationOptions()) throws(PrepareError) {
        self.options = options
        self.modification = modification
        let access = try RegistryClientSetup(options: options)
        client = access.client
        sources = PullSources(configuration: access.registries, client: client)
        destinations = DestinationRouter(client: client, imageServeDirectory: options.imageServeDirectory)
    }

    static func reference(_ text: String) throws(PrepareError) -> Reference {
        do {
            return try Reference(text)
        } catch {
            throw PrepareError.invalidName(error)
        }
    }

    /// Every repository of a registry with its tags.
    public func list(registry: String) async throws -> [(repository: String, tags: [String])] {
        var result: [(String, [String])] = []
        for repository in try await client.listRepositories(registry: registry) {
            let tags = try await client.listTags(Reference(registry: registry, repository: repository))
            result.append((repository, tags.sorted()))
        }
        return result
    }

    public func inspect(_ name: String) async throws -> ImageInspection {
        let reference = try Self.reference(name)
        try sources.checkNotBlocked([reference])
        let image = try await client.resolveImage(reference)
        let config = try await client.fetchImageConfig(of: image, in: reference)
        // The repository's tags, as upstream's show lists them; a registry that refuses the
        // listing still shows the image.
        let tags = (try? await client.listTags(reference)) ?? []
        let layers = image.manifest.layers.map {
            ImageInspection.Layer(digest: $0.digest.description, size: $0.size, mediaType: $0.mediaType.rawValue)
        }
        return ImageInspection(
            name: reference.description, digest: image.raw.digest.description, mediaType: image.raw.mediaType.rawValue,
            repositoryTags: tags, created: config.created, dockerVersion: config.dockerVersion, env: config.config?.env ?? [],
            indexDigest: image.indexDigest?.description, architecture: config.architecture, os: config.os, user: config.user,
            labels: config.labels, layers: layers, size: image.manifest.layers.totalSize)
    }

    /// Whether `name`'s registry was written as an image-serve directory or pushed to.
    public func destinationKind(_ name: String) async -> DestinationKind {
        guard let reference = try? Reference(name) else { return .registry }
        return await destinations.kind(of: reference.registry)
    }

    public func copy(from source: String, to destination: String, allPlatforms: Bool) async throws -> ImageCopyReport {
        let copier = ImageCopier(client: client, platforms: allPlatforms ? .all : .only(.linuxAMD64), destinations: destinations)
        let sourceReference = try Self.reference(source)
        let destinationReference = try Self.reference(destination)
        try sources.checkNotBlocked([sourceReference])
        return try await sources.read(sourceReference) { try await copier.copy(from: $0, to: destinationReference) }.value
    }

    /// What `image copy` did when local container storage is one of its ends.
    public struct LocalCopyReport: Sendable {
        /// The image in local storage: the one read, or the one written.
        public var imageID: String
        /// The manifest pushed (a local source), nil when the destination is local storage.
        public var digest: Digest?
        public var blobs: BlobPlacementCounts
    }

    /// `image copy` with `containers-storage:NAME` as the source (pushed as a locally built
    /// image is), the destination (written through an OCI layout and loaded by buildah, as
    /// upstream's hotfixes are kept), or both (another name for the same image).
    public func copyLocal(from source: String, to destination: String) async throws -> LocalCopyReport {
        let local = LocalImageCopy(copier: ImageCopier(client: client, destinations: destinations), options: modification)
        switch (ImageName.isLocal(source), ImageName.isLocal(destination)) {
        case (true, true):
            let image = try await local.find(ImageName.withoutStoragePrefix(source))
            let log = URL(fileURLWithPath: "/dev/null")
            do {
                try await modification.buildah.tag(image.id, as: ImageName.withoutStoragePrefix(destination), log: log)
            } catch let failure as CommandRunner.Failure {
                throw BuildError(image: destination, step: "tag in local container storage",
                                 message: "\(failure.command) failed (\(failure.status))", outputTail: failure.output)
            }
            return LocalCopyReport(imageID: image.id, digest: nil, blobs: BlobPlacementCounts())
        case (true, false):
            let report = try await local.copy(ImageName.withoutStoragePrefix(source), to: try Self.reference(destination))
            return LocalCopyReport(imageID: report.image.id, digest: report.push.digest, blobs: report.push.blobs)
        case (false, true):
            let sourceReference = try Self.reference(source)
            try sources.checkNotBlocked([sourceReference])
            let report = try await LocalStorageWrite(client: client, options: modification).write(
                as: ImageName.withoutStoragePrefix(destination), like: sourceReference
            ) { copier, target in
                return try await sources.read(sourceReference) { try await copier.copy(from: $0, to: target) }.value.placements
            }
            return LocalCopyReport(imageID: report.imageID, digest: nil, blobs: report.blobs)
        case (false, false):
            // Two registry images: the registry copy, not this.
            throw PrepareError.noLocalSide(source: source, destination: destination)
        }
    }

    /// Removes `name` (`containers-storage:NAME`) from local storage: the name, or the image
    /// when it has no other.
    public func removeLocal(_ name: String) async throws {
        do {
            try await modification.buildah.untag(ImageName.withoutStoragePrefix(name), log: URL(fileURLWithPath: "/dev/null"))
        } catch let failure as CommandRunner.Failure {
            throw BuildError(image: name, step: "remove from local container storage",
                             message: "\(failure.command) failed (\(failure.status))", outputTail: failure.output)
        }
    }

    /// Deletes the manifest a tag or digest names (the registry must allow
    /// deletes); returns the digest deleted. At an image-serve registry the tag is
    /// deleted from its directory as tripleo-common does.
    /// Deletes `name` (a tag at image-serve; its manifest by digest at a registry, which
    /// removes every tag naming it) and returns the digest. With `keepEnvironments`, refuses
    /// when one of those env files' image parameters still names the tag, its digest, or (at
    /// a registry) another tag of the same manifest.
    public func delete(_ name: String, keepEnvironments: [String] = []) async throws -> String {
        var reference = try Self.reference(name)
        let kept = try keepEnvironments.isEmpty ? nil
            : PruneSelection.reading(keepEnvironments, registry: reference.registry, keepLast: 0, purpose: "delete").0
        if let imageServe = try await destinations.destination(for: reference) as? ImageServeDestination {
            guard reference.digest == nil else {
                throw PrepareError.imageServeDeletesTags(name)
            }
            let tag = reference.tag ?? "latest"
            if let kept, kept.keeps(repository: reference.repository, tag: tag,
                                    digest: imageServe.directory.taggedDigest(repository: reference.repository, tag: tag)) {
                throw PrepareError.deleteKept(name, sibling: nil)
            }
            return try imageServe.directory.delete(repository: reference.repository, tag: tag).description
        }
        if let kept, let tag = reference.tag, kept.tags.contains("\(reference.repository):\(tag)") {
            throw PrepareError.deleteKept(name, sibling: nil)
        }
        if reference.digest == nil {
            guard let descriptor = try await client.headManifest(reference) else {
                throw PrepareError.noSuchImage(name)
            }
            reference = reference.withDigest(descriptor.digest)
        }
        let digest = reference.digest!
        if let kept {
            if kept.digests.contains("\(reference.repository)@\(digest)") {
                throw PrepareError.deleteKept(name, sibling: nil)
            }
            // A registry deletes the manifest, so every tag naming it goes too.
            for keptTag in kept.tags.sorted() where keptTag.hasPrefix(reference.repository + ":") {
                let sibling = Reference(registry: reference.registry, repository: reference.repository,
                                        tag: String(keptTag.dropFirst(reference.repository.count + 1)))
                if try await client.headManifest(sibling)?.digest == digest {
                    throw PrepareError.deleteKept(name, sibling: sibling.description)
                }
            }
        }
        try await client.deleteManifest(reference)
        return digest.description
    }

    public enum ModifyOutcome: Sendable, Equatable {
        /// The target reference and what was built.
        case built(String, ModificationReport)
        case alreadyThere(String)
        /// `--only-images-with-packages`: the image has none of the hotfix's packages.
        case notATarget(String)
    }

    /// Modifies one image as `tripleo-modify-image` would and pushes it to
    /// `target` plus `appendTag`; nothing is built when that tag is already
    /// there, or, with `onlyImagesWithPackages`, when an rpm_install's
    /// packages are not in the image.
    /// Where `modify` and `hotfix` put what they build.
    public enum ModifyDestination: Sendable, Equatable {
        /// The target reference (the append tag is added to its tag): a registry or image-serve.
        case image(String)
        /// Local container storage, under this name plus the append tag (upstream's hotfixes).
        case localStorage(String)
    }

    /// `role` other than the built-in `tripleo-modify-image` runs through ansible-playbook
    /// with `vars` as they are.
    public func modify(
        source: String, target: String, vars: [ConfigEntry], appendTag: String, role: String = Planner.modifyRole
    ) async throws -> ModifyOutcome {
        try await modify(source: source, into: .image(target), vars: vars, appendTag: appendTag, role: role)
    }

    public func modify(
        source: String, into destination: ModifyDestination, vars: [ConfigEntry], appendTag: String,
        role: String = Planner.modifyRole
    ) async throws -> ModifyOutcome {
        let action: ModifyAction
        if Planner.isBuiltInRole(role) {
            do {
                action = .builtIn(try ModifyTask.parse(vars, file: "command line", key: "imageprep modify"), vars: vars)
            } catch {
                throw PrepareError.plan(error)
            }
        } else {
            action = .role(role, vars: vars)
        }
        if ImageName.isLocal(source) {
            throw PrepareError.localImageNotModified(source)
        }
        let requested = try Self.reference(source)
        try sources.checkNotBlocked([requested])
        let sourceReference = await sources.available(requested)
        let inventory = PackageInventory(client: client, maxDatabaseSize: options.maxDatabaseSize)
        func modification(_ copier: ImageCopier) -> ImageModification {
            ImageModification(
                client: client, copier: copier, inventory: inventory, buildSlot: ConcurrencyLimiter(limit: 1), cacheWriters: ExclusiveKeys(),
                caFile: options.caFile, options: self.modification)
        }
        let tlsVerify = !client.isInsecure(sourceReference.registry)
        switch destination {
        case .image(let target):
            let targetName = target + appendTag
            let targetReference = try Self.reference(targetName)
            let copier = ImageCopier(client: client, destinations: destinations)
            switch try await modification(copier).apply(
                action, appendTag: appendTag, source: sourceReference, target: targetReference,
                tlsVerify: tlsVerify, checkHotfix: true)
            {
            case .alreadyThere: return .alreadyThere(targetName)
            case .notATarget: return .notATarget(sourceReference.description)
            case .built(let report): return .built(targetName, report)
            }
        case .localStorage(let name):
            let localName = name + appendTag
            // The name must be one a reference can be: buildah tags it so.
            _ = try Self.reference(localName)
            let storage = LocalStorageWrite(client: client, options: self.modification)
            let shown = ImageName.containersStoragePrefix + localName
            if try await storage.has(localName) { return .alreadyThere(shown) }
            var outcome = ModifyOutcome.alreadyThere(shown)
            do {
                _ = try await storage.write(as: localName, like: sourceReference) { copier, target in
                    switch try await modification(copier).apply(
                        action, appendTag: appendTag, source: sourceReference, target: target,
                        tlsVerify: tlsVerify, checkHotfix: true)
                    {
                    case .alreadyThere, .notATarget:
                        outcome = .notATarget(sourceReference.description)
                        throw LocalStorageWrite.NothingToLoad()
                    case .built(let report):
                        outcome = .built(shown, report)
                        return report.blobs
                    }
                }
            } catch is LocalStorageWrite.NothingToLoad {}
            return outcome
        }
    }

    /// What `hotfix apply` did to one image.
    public struct HotfixResult: Sendable {
        public var image: String
        public var outcome: Result<ModifyOutcome, any Error>
    }

    /// Upstream's `image hotfix`: the RPMs of `rpmsPath` installed (rpm_install) into each of
    /// `images`, each result tagged `<tag>-<suffix>`: at `pushDestination` (the image's path
    /// there, as prepare pushes) or, without one, in local container storage under the
    /// image's own name, as upstream keeps them. One failing image does not stop the others.
    public func hotfix(images: [String], rpmsPath: String, suffix: String, pushDestination: String?) async -> [HotfixResult] {
        var results: [HotfixResult] = []
        for image in images {
            let outcome: Result<ModifyOutcome, any Error>
            do {
                let reference = try Self.reference(image)
                var named = reference
                named.digest = nil
                let destination: ModifyDestination
                if let pushDestination {
                    destination = .image(Reference(registry: pushDestination, repository: reference.repository, tag: reference.tag ?? "latest").description)
                } else {
                    named.tag = reference.tag ?? "latest"
                    destination = .localStorage(named.description)
                }
                let vars = [ConfigEntry("tasks_from", .string("rpm_install")), ConfigEntry("rpms_path", .string(rpmsPath))]
                outcome = .success(try await modify(source: image, into: destination, vars: vars, appendTag: "-" + suffix))
            } catch {
                outcome = .failure(error)
            }
            results.append(HotfixResult(image: image, outcome: outcome))
        }
        return results
    }
}
