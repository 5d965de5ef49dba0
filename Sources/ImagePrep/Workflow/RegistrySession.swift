import Foundation
import ImagePrepBuild
import ImagePrepConcurrency
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry
import Logging
import Synchronization

/// The registry stages of a real run, over one registry client (shared
/// connections, tokens and blob transfers): tag discovery, copies, and
/// modifications built with buildah and pushed by the client. What each stage learns
/// travels in its results (``ImageResolution``, ``ImageOutcome``); nothing is printed.
public final class RegistrySession: ImageResolver, ImageTransfer {
    let client: RegistryClient
    let copier: ImageCopier
    /// buildah builds and ansible-playbook runs: `--build-concurrency` at once.
    let buildSlot: ConcurrencyLimiter
    /// One build at a time per `yum_cache`.
    let cacheWriters = ExclusiveKeys()
    let options: RegistryOptions
    let modification: ModificationOptions
    let mirror: String?
    /// registries.conf: blocked registries and mirrors for the source reads.
    let sources: PullSources
    let hotfixes: HotfixPlanner
    let tags: TagLookup
    /// Whether resolution may ask the push destinations (not in a dry run, which reads only
    /// the sources).
    let readsDestinations: Bool

    public init(
        plan: PreparePlan, options: RegistryOptions, modification: ModificationOptions = ModificationOptions(),
        readsDestinations: Bool = true
    ) throws(PrepareError) {
        self.readsDestinations = readsDestinations
        buildSlot = ConcurrencyLimiter(limit: modification.buildConcurrency)
        let access = try RegistryClientSetup(options: options, plan: plan)
        mirror = access.mirror
        self.options = options
        self.modification = modification
        client = access.client
        sources = PullSources(configuration: access.registries, client: client)
        // Only the images the run reads: a blocked registry's image that is only named in
        // a parameter is not pulled.
        let read = plan.images.filter { $0.tagFromLabel != nil || $0.pushDestination != nil || $0.modify != nil }
        try sources.checkNotBlocked(read.compactMap { try? Self.sourceReference($0, mirror: access.mirror) })
        var platforms: ImageCopier.Platforms = .only(.linuxAMD64)
        if !plan.registry.additionalArchitectures.isEmpty { platforms = .all }
        copier = ImageCopier(
            client: client, platforms: platforms,
            destinations: DestinationRouter(client: client, imageServeDirectory: options.imageServeDirectory, catalogAtEnd: true))
        hotfixes = HotfixPlanner(inventory: PackageInventory(client: client, maxDatabaseSize: options.maxDatabaseSize))
        tags = TagLookup(client: client)
    }

    /// The image's source reference (parsed by the plan), through `DockerRegistryMirror` for
    /// docker.io.
    func sourceReference(_ image: PlannedImage) throws -> Reference {
        try Self.sourceReference(image, mirror: mirror)
    }

    static func sourceReference(_ image: PlannedImage, mirror: String?) throws -> Reference {
        var reference = try image.pullReference ?? Reference(image.pullName)
        if let mirror, reference.registry == Reference.dockerHubRegistry {
            reference.registry = mirror
        }
        return reference
    }

    // MARK: Resolve

    public func resolve(_ image: PlannedImage) async -> Result<ImageResolution, ImageFailure> {
        do {
            if ImageName.isLocal(image.imageName) { return .success(try await resolveLocal(image)) }
            let source = try sourceReference(image)
            var discovered = TagLookup.Outcome()
            var resolution = ImageResolution(resolved: ResolvedImage(image: image, tag: nil, modified: false))
            let checksLabels = !(image.modify?.onlyWithLabels.isEmpty ?? true)
            var hotfixRPMs: String?
            if modification.onlyImagesWithPackages, case .rpmInstall(let rpmsPath)? = image.modify?.task {
                hotfixRPMs = rpmsPath
            }
            // Read once, where a pull source answers: the tag's manifest and config, for the
            // discovered tag, the labels an only_with_labels modification asks about, and the
            // hotfix plan; the copy and the modification take the image read here.
            if image.tagFromLabel != nil || checksLabels || hotfixRPMs != nil {
                let client = self.client
                let read = try await sources.read(source) { try await SourceImage.read($0, client: client) }.value
                resolution.source = read
                resolution.sourceDigest = read.manifest.taggedDigest
                resolution.sourceSize = read.manifest.manifest.blobs.totalSize
            }
            if let template = image.tagFromLabel, let read = resolution.source {
                var answered = read.reference
                answered.digest = nil
                discovered = try TagLookup.candidate(template, labels: read.config.labels, source: answered)
                if let tag = discovered.tag, tag != answered.tag {
                    // A destination holding the discovered tag at the digest just read already
                    // has this image (a re-run): the source's tag needs no second look. Else the
                    // tag is checked where the labels were read (a registries.conf mirror, if
                    // the registry itself did not answer).
                    resolution.destination = try await destinationState(of: image, tag: tag)
                    if resolution.destination != .present(read.manifest.taggedDigest) {
                        try await tags.verify(tag, template: template, source: answered, image: image.imageName)
                    }
                }
            }
            var modified = image.modify != nil
            if let modify = image.modify, checksLabels, let labels = resolution.source?.config.labels {
                // Upstream's filter_images_with_labels: any one of the labels.
                modified = modify.onlyWithLabels.contains { labels[$0] != nil }
            }
            if modified, let rpmsPath = hotfixRPMs, let read = resolution.source {
                let plan = try await hotfixes.plan(rpmsPath: rpmsPath, image: read)
                modified = plan.applies
                resolution.hotfix = plan
            }
            resolution.resolved = ResolvedImage(
                image: image, tag: discovered.tag, modified: modified, missingLabel: discovered.missingLabel)
            return .success(resolution)
        } catch {
            return .failure(ImageFailure(image: image.imageName, error: error))
        }
    }

    /// What the push destination holds under the name an unmodified copy of `image` with
    /// `tag` gets; nil when it is not asked (no destination, a modification, a dry run).
    private func destinationState(of image: PlannedImage, tag: String) async throws -> ImageCopier.DestinationTag? {
        guard readsDestinations, image.pushDestination != nil, image.modify == nil else { return nil }
        let target = try Reference(ResolvedImage(image: image, tag: tag, modified: false).targetName)
        return try await copier.destinationManifest(target).map { .present($0.digest) } ?? .absent
    }

    /// A locally built image: its tag from its labels in local storage; never modified
    /// (the planner refuses that).
    private func resolveLocal(_ image: PlannedImage) async throws -> ImageResolution {
        var tag: String?
        if let template = image.tagFromLabel {
            let local = try await LocalImageCopy(copier: copier, options: modification)
                .find(ImageName.withoutStoragePrefix(image.imageName))
            tag = try template.tag(labels: local.labels, image: image.imageName)
        }
        return ImageResolution(resolved: ResolvedImage(image: image, tag: tag, modified: false))
    }

    // MARK: Transfer

    public func copy(_ image: ImageResolution, progress: ByteProgress) async -> ImageOutcome {
        if ImageName.isLocal(image.resolved.image.imageName) { return await copyLocal(image) }
        do {
            // From the digest the labels were read at (the set tag may have moved since):
            // the discovered tag names the destination.
            let source = pinned(try sourceReference(image.resolved.image), image.sourceDigest)
            let target = try Reference(image.resolved.targetName)
            // Already there with the digest the labels were read from: one
            // request, no second look at the source.
            var destinationTag: ImageCopier.DestinationTag?
            if let digest = image.sourceDigest {
                // Asked once: at resolution, or here.
                let state: ImageCopier.DestinationTag
                if let known = image.destination {
                    state = known
                } else {
                    state = try await copier.destinationManifest(target).map { .present($0.digest) } ?? .absent
                }
                if state == .present(digest) { return .skipped(.alreadyThere(digest)) }
                destinationTag = state
            }
            var copier = self.copier
            copier.platforms = image.resolved.image.multiArch ? .all : .only(.linuxAMD64)
            let (copied, from) = try await sources.read(source) { [copier, destinationTag] in
                try await copier.copy(from: $0, to: target, destinationTag: destinationTag, progress: progress)
            }
            if copied.outcome == .skipped { return .skipped(.alreadyThere(copied.digest)) }
            var report = CopyReport()
            report.blobs = copied.blobs
            report.bytesNotCopied = copied.bytesNotCopied
            report.mirror = sources.isMirror(from, of: source) ? from.registry : nil
            report.destination = await copier.destinationKind(target)
            return .copied(report)
        } catch {
            return .failed(ImageFailure(image: image.resolved.image.imageName, error: error))
        }
    }

    /// From local container storage through an OCI layout; buildah runs one at a time.
    private func copyLocal(_ image: ImageResolution) async -> ImageOutcome {
        let name = ImageName.withoutStoragePrefix(image.resolved.image.imageName)
        do {
            let target = try Reference(image.resolved.targetName)
            let local = try await buildSlot.withSlots {
                try await LocalImageCopy(copier: copier, options: modification).copy(name, to: target)
            }
            var report = CopyReport()
            report.blobs = local.push.blobs
            report.localImageID = local.image.id
            report.destination = await copier.destinationKind(target)
            return .copied(report)
        } catch {
            return .failed(ImageFailure(image: image.resolved.image.imageName, error: error))
        }
    }

    /// The target's repository under the source's tag (the target's without the append
    /// tag), where the unmodified image goes first; nil without an append tag (it would be
    /// the target itself).
    static func unmodified(_ target: Reference, appendTag: String) -> Reference? {
        guard !appendTag.isEmpty, let tag = target.tag, tag.hasSuffix(appendTag), tag.count > appendTag.count else { return nil }
        var unmodified = target
        unmodified.tag = String(tag.dropLast(appendTag.count))
        unmodified.digest = nil
        return unmodified
    }

    public func modify(_ image: ImageResolution) async -> ImageOutcome {
        let planned = image.resolved.image
        guard let modify = planned.modify else {
            return .failed(ImageFailure(image: planned.imageName, kind: .other, reason: "no modification"))
        }
        do {
            let target = try Reference(image.resolved.targetName)
            // The base is the image whose labels were read, where they were read: buildah's FROM
            // names its digest.
            let source: Reference
            if let read = image.source {
                source = read.reference
            } else {
                source = await sources.available(pinned(try sourceReference(planned), image.sourceDigest))
            }
            let modification = ImageModification(
                client: client, copier: copier, inventory: hotfixes.inventory, buildSlot: buildSlot, cacheWriters: cacheWriters,
                caFile: options.caFile,
                options: self.modification, base: image.source)
            switch try await modification.apply(
                modify.action, appendTag: modify.appendTag, source: source, target: target,
                tlsVerify: !client.isInsecure(source.registry), unmodified: Self.unmodified(target, appendTag: modify.appendTag))
            {
            case .alreadyThere: return .skipped(.alreadyModified)
            case .notATarget:
                return .failed(ImageFailure(image: planned.imageName, kind: .other, reason: "not a hotfix target"))
            case .built(let report): return .modified(report)
            }
        } catch {
            return .failed(ImageFailure(image: planned.imageName, error: error))
        }
    }

    public func finishWriting() async throws {
        try await copier.destinations.finishWriting()
    }

    public func notes() async -> TransferNotes {
        TransferNotes(
            insecureRegistries: await client.insecurelyReachedRegistries(),
            verifiedRegistries: await client.verifiedRegistries(),
            imageServeRegistries: await copier.destinations.imageServeRegistries(),
            imageServeDirectory: options.imageServeDirectory.path)
    }

    /// `reference` pinned to the digest its tag pointed at when the image's labels were
    /// read, when they were.
    func pinned(_ reference: Reference, _ digest: Digest?) -> Reference {
        guard let digest else { return reference }
        return reference.withDigest(digest)
    }
}

extension Reference {
    /// The name buildah pulls: docker.io for Docker Hub.
    var buildahName: String {
        let registry = self.registry == Reference.dockerHubRegistry ? "docker.io" : self.registry
        return "\(registry)/\(repository)" + (digest.map { "@\($0)" } ?? ":\(tag ?? "latest")")
    }
}
