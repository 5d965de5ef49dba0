import Foundation
import ImagePrepBuild
import ImagePrepConcurrency
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

extension ImageOperations {
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
