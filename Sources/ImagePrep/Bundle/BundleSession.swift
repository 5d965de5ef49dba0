import Foundation
import ImagePrepConcurrency
import ImagePrepFiles
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// `prepare --from-bundle`: the resolve and transfer stages of a prepare with every source
/// read answered by a bundle instead of the network. An image's manifest is the bundle's
/// entry for its source reference, its labels (`tag_from_label`, `modify_only_with_labels`)
/// those of the config in the bundle, a discovered tag must be another entry of the same
/// repository; copies place the bundle's blobs at the push destination through the same
/// placement code as `bundle load`. The bundle is validated whole before anything is read.
/// Modifications are refused: they build from a registry.
public final class BundleSession: ImageResolver, ImageTransfer {
    let layout: URL
    let name: String
    let entries: [Reference: ImageBundle.Entry]
    let client: RegistryClient
    let copier: ImageCopier
    let imageServeDirectory: URL

    /// Over the validated layout `layout` (`name` names the bundle in errors).
    init(layout: URL, name: String, entries: [ImageBundle.Entry], plan: PreparePlan, options: RegistryOptions) throws(PrepareError) {
        self.layout = layout
        self.name = name
        self.entries = Dictionary(entries.map { ($0.reference, $0) }) { first, _ in first }
        // Only push destinations are reached: insecurely as a real run reaches them.
        client = try RegistryClientSetup(options: options, plan: plan).client
        copier = ImageCopier(client: client, destinations: DestinationRouter(client: client, imageServeDirectory: options.imageServeDirectory, catalogAtEnd: true))
        imageServeDirectory = options.imageServeDirectory
    }

    /// An image's entry, or why the bundle does not answer for it.
    func entry(_ reference: Reference, image: String) throws -> ImageBundle.Entry {
        if let entry = entries[reference] { return entry }
        throw BundleMiss(bundle: name, reference: reference.description, image: image)
    }

    /// The image's config, as validated with the bundle (its size bounded as a manifest's).
    func config(of entry: ImageBundle.Entry) throws -> ImageConfig {
        guard entry.config.size <= ImageBundle.maxDocumentSize else {
            throw BundleError.invalid(name, "the config of \(entry.reference) is \(entry.config.size) bytes, more than a bundle's config may be")
        }
        do {
            return try JSONDecoder().decode(ImageConfig.self, from: try Data(contentsOf: ImageBundle.blobURL(entry.config.digest, in: layout)))
        } catch {
            throw BundleError.invalid(name, "the config of \(entry.reference) (\(ImageBundle.blobPath(entry.config.digest))) is not an image config")
        }
    }

    // MARK: Resolve

    public func resolve(_ image: PlannedImage) async -> Result<ImageResolution, ImageFailure> {
        do {
            guard !ImageName.isLocal(image.imageName) else {
                throw BundleRefusal(reason: "a locally built image is not read from a bundle")
            }
            let source = try Reference(image.pullName)
            var resolution = ImageResolution(resolved: ResolvedImage(image: image, tag: nil, modified: false))
            var discovered = TagLookup.Outcome()
            var labels: [String: String] = [:]
            let needsLabels = image.tagFromLabel != nil || !(image.modify?.onlyWithLabels.isEmpty ?? true)
            if image.tagFromLabel != nil || image.pushDestination != nil || needsLabels {
                let found = try entry(source, image: image.imageName)
                resolution.sourceDigest = found.manifest.digest
                resolution.sourceSize = found.size
                if needsLabels { labels = try config(of: found).labels }
            }
            if let template = image.tagFromLabel {
                discovered = try TagLookup.candidate(template, labels: labels, source: source)
                if let tag = discovered.tag, tag != source.tag {
                    let tags = entries.keys.filter { $0.registry == source.registry && $0.repository == source.repository }.compactMap(\.tag)
                    guard tags.contains(tag) else {
                        throw TagNotFound(image: ImageName.splitTag(image.imageName).name, tag: tag, template: template.description, available: tags)
                    }
                }
            }
            var modified = image.modify != nil
            if let modify = image.modify, !modify.onlyWithLabels.isEmpty {
                modified = modify.onlyWithLabels.contains { labels[$0] != nil }
            }
            guard !modified else { throw BundleRefusal(reason: "modify_role builds from a registry: prepare it on a connected host") }
            resolution.resolved = ResolvedImage(image: image, tag: discovered.tag, modified: false, missingLabel: discovered.missingLabel)
            return .success(resolution)
        } catch {
            return .failure(ImageFailure(image: image.imageName, error: error))
        }
    }

    // MARK: Transfer

    public func copy(_ image: ImageResolution, progress: ByteProgress) async -> ImageOutcome {
        do {
            let found = try entry(try Reference(image.resolved.image.pullName), image: image.resolved.image.imageName)
            let target = try Reference(image.resolved.targetName)
            if try await copier.destinationManifest(target)?.digest == found.manifest.digest {
                return .skipped(.alreadyThere(found.manifest.digest))
            }
            let pushed = try await OCILayoutPush(copier: copier).push(layout: layout, manifest: found.manifest, to: target)
            var report = CopyReport()
            report.blobs = pushed.blobs
            report.bytesNotCopied = max(0, (image.sourceSize ?? 0) - pushed.blobs.bytesCopied)
            report.destination = await copier.destinationKind(target)
            return .copied(report)
        } catch {
            return .failed(ImageFailure(image: image.resolved.image.imageName, error: error))
        }
    }

    public func modify(_ image: ImageResolution) async -> ImageOutcome {
        .failed(ImageFailure(image: image.resolved.image.imageName, kind: .other, reason: "not modified from a bundle"))
    }

    public func finishWriting() async throws {
        try await copier.destinations.finishWriting()
    }

    public func notes() async -> TransferNotes {
        TransferNotes(
            insecureRegistries: await client.insecurelyReachedRegistries(),
            verifiedRegistries: await client.verifiedRegistries(),
            imageServeRegistries: await copier.destinations.imageServeRegistries(),
            imageServeDirectory: imageServeDirectory.path)
    }
}

/// An image the env names that the bundle does not hold.
struct BundleMiss: Error, CustomStringConvertible {
    var bundle: String
    var reference: String
    var image: String

    var description: String {
        "bundle \(bundle) has no \(reference): make it with 'imageprep bundle create' from this environment".escapingControlCharacters()
    }
}

struct BundleRefusal: Error, CustomStringConvertible {
    var reason: String
    var description: String { "--from-bundle: \(reason)" }
}

extension PrepareWorkflow {
    /// Runs `body` over a session on the validated bundle at `path` (a tar file is extracted
    /// to a temporary directory for the run, then removed).
    func withBundle<T>(_ path: URL, plan: PreparePlan, _ body: (BundleSession) async throws(PrepareError) -> T) async throws(PrepareError) -> T {
        var layout = path
        var staging: String?
        if BundleArchive.isArchive(path.path) {
            staging = RunTemporaries.newPath(in: FileManager.default.temporaryDirectory.path, prefix: "imageprep-bundle-")
        }
        defer { if let staging { RunTemporaries.release(staging) } }
        let entries: [ImageBundle.Entry]
        do {
            if let staging {
                layout = URL(fileURLWithPath: staging)
                let extracted = try BundleArchive.extract(path, into: layout)
                entries = try BundleLoader.validate(layout, name: path.path, verified: extracted.verified)
            } else {
                entries = try BundleLoader.validate(layout)
            }
        } catch {
            throw PrepareError.bundle(error)
        }
        let session = try BundleSession(layout: layout, name: path.path, entries: entries, plan: plan, options: options.registry)
        return try await body(session)
    }
}
