import Foundation
import ImagePrepBuild
import ImagePrepConcurrency
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

extension ImageOperations {
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
}
