import Foundation
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// What `imageprep image prune` removed (or, in a dry run, would remove).
public struct PruneReport: Sendable {
    /// The image-serve directory pruned; nil for a registry with a push API.
    public var imageServeDirectory: String?
    public var removals: [PruneRemoval]
    /// Tags kept: named by a `--keep-env` file or among the `--keep-last` newest.
    public var kept: Int

    public var bytesFreed: Int64 {
        removals.reduce(Int64(0)) { $0.addingReportingOverflow($1.bytes).partialValue }
    }
}

/// The tags `image prune` keeps: those a kept env file's image parameters name (by tag, or by
/// digest), those of `ContainerImagePrepare` and of every `<Role>Parameters` mapping alike, and per repository the `keepLast` newest, newest meaning the latest config
/// `created` (a tag without one is the oldest; ties go to the later tag name).
struct PruneSelection: Sendable {
    var tags: Set<String> = []
    var digests: Set<String> = []
    var keepLast: Int

    /// The tags and digests `files`' heat image parameters (with each `<Role>Parameters`
    /// mapping's, where prepare writes a role's own images) name on `registry`, with one of
    /// those references (to find the destination's kind). Each file must name at least one
    /// image there: an env file for another registry would keep nothing by mistake.
    static func reading(_ files: [String], registry: String, keepLast: Int, purpose: String) throws -> (PruneSelection, Reference) {
        var selection = PruneSelection(keepLast: max(0, keepLast))
        var probe: Reference?
        for file in files {
            let text = try FileSystem.readText(file)
            let parameters: [String: String]
            do {
                parameters = try ParameterDiff.deployedParameters(
                    try ConfigDocument.parse(text, file: file), file: file, roleParameters: true)
            } catch {
                throw PrepareError.plan(error)
            }
            var named = false
            for image in parameters.values {
                guard let reference = try? Reference(image), reference.registry == registry else { continue }
                named = true
                probe = probe ?? reference
                if let digest = reference.digest {
                    selection.digests.insert("\(reference.repository)@\(digest)")
                } else {
                    selection.tags.insert("\(reference.repository):\(reference.tag ?? "latest")")
                }
            }
            guard named else { throw PrepareError.keepEnvironmentNamesNoImage(file: file, registry: registry, purpose: purpose) }
        }
        guard let probe else { throw PrepareError.pruneKeepsNothing }
        return (selection, probe)
    }

    /// Whether `repository:tag` (whose manifest is `digest`, when known) is kept by name.
    func keeps(repository: String, tag: String, digest: Digest?) -> Bool {
        tags.contains("\(repository):\(tag)") || digest.map { digests.contains("\(repository)@\($0)") } == true
    }

    /// The images of `images` to remove.
    func removals(_ images: [TaggedImage]) -> [TaggedImage] {
        var removed: [TaggedImage] = []
        for (_, tagged) in Dictionary(grouping: images, by: \.repository) {
            let newest = tagged.sorted { ($0.created ?? "", $0.tag) > ($1.created ?? "", $1.tag) }
            for (rank, image) in newest.enumerated() {
                if rank < keepLast || keeps(repository: image.repository, tag: image.tag, digest: image.digest) { continue }
                removed.append(image)
            }
        }
        return removed.sorted { ($0.repository, $0.tag) < ($1.repository, $1.tag) }
    }
}

extension ImageOperations {
    /// Removes every tag of `registry` no `keepEnvironments` file's image parameters name
    /// (beyond the `keepLast` newest per repository). An image-serve directory is pruned
    /// whole (tags, manifests, blobs, see ``ImageServeDirectory/prune(dryRun:select:)``);
    /// at a registry each removed tag's manifest is deleted by digest (unless a kept tag
    /// names the same digest) and its blobs are left to the registry's garbage collection.
    public func prune(registry: String, keepEnvironments: [String], keepLast: Int, dryRun: Bool) async throws -> PruneReport {
        guard !keepEnvironments.isEmpty else { throw PrepareError.pruneKeepsNothing }
        let (selection, probe) = try PruneSelection.reading(keepEnvironments, registry: registry, keepLast: keepLast, purpose: "prune")

        if let imageServe = try await destinations.destination(for: probe) as? ImageServeDestination {
            let directory = imageServe.directory
            var total = 0
            let removals = try directory.prune(dryRun: dryRun) { images in
                let removed = selection.removals(images)
                total = images.count
                return removed
            }
            let tags = removals.filter { $0.kind == .tag }.count
            return PruneReport(imageServeDirectory: directory.root.path, removals: removals, kept: total - tags)
        }

        var images: [TaggedImage] = []
        for (repository, tags) in try await list(registry: registry) {
            for tag in tags {
                let reference = Reference(registry: registry, repository: repository, tag: tag)
                let digest = try await client.headManifest(reference)?.digest
                var created: String?
                if selection.keepLast > 0 {
                    created = try? await client.fetchImageConfig(of: try await client.resolveImage(reference), in: reference).created
                }
                images.append(TaggedImage(repository: repository, tag: tag, digest: digest, created: created))
            }
        }
        let removed = selection.removals(images)
        let removedNames = Set(removed.map { "\($0.repository):\($0.tag)" })
        let keptDigests = Set(images.filter { !removedNames.contains("\($0.repository):\($0.tag)") }.compactMap { image in
            image.digest.map { "\(image.repository)@\($0)" }
        })
        var removals: [PruneRemoval] = []
        var deleted: Set<String> = []
        for image in removed {
            guard let digest = image.digest else { continue }
            let key = "\(image.repository)@\(digest)"
            // Deleting a manifest by digest removes every tag naming it: a kept tag keeps it.
            guard !keptDigests.contains(key) else { continue }
            removals.append(PruneRemoval(kind: .tag, repository: image.repository, name: "\(image.tag) (\(digest))", bytes: 0))
            guard !dryRun, deleted.insert(key).inserted else { continue }
            try await client.deleteManifest(Reference(registry: registry, repository: image.repository, digest: digest))
        }
        return PruneReport(imageServeDirectory: nil, removals: removals, kept: images.count - removals.count)
    }
}
