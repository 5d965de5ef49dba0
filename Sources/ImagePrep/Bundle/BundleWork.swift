import Foundation
import ImagePrepConcurrency
import ImagePrepFiles
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// What `bundle create` wrote.
public typealias BundleReport = BundleWriter.Report

/// One image to put in a bundle: the names its index entries get, and where it is read.
public struct BundleImage: Sendable, Equatable {
    /// The full source references it is known by (the `set` tag's, and the one
    /// `tag_from_label` discovered).
    public var names: [Reference]
    /// Where it is read: its registry (a registries.conf mirror first), pinned to the
    /// digest its labels were read at.
    public var source: Reference

    public init(names: [Reference], source: Reference) {
        self.names = names
        self.source = source
    }
}

/// Writing and loading bundles, over the pull sources and registry client of a run.
enum BundleWork {
    /// Writes `images` into `output`: a layout directory, or one tar file when `output` ends
    /// in `.tar` (the layout is written beside it first, then removed).
    static func create(_ images: [BundleImage], output: URL, client: RegistryClient, sources: PullSources) async throws
        -> BundleWriter.Report
    {
        let archive = output.pathExtension == "tar"
        var layout = output
        if archive {
            let staging = RunTemporaries.newPath(in: output.deletingLastPathComponent().path, prefix: ".imageprep-bundle-")
            layout = URL(fileURLWithPath: staging)
        }
        defer { if archive { RunTemporaries.release(layout.path) } }
        let writer = try BundleWriter(client: client, layout: layout)
        var report = BundleWriter.Report()
        var entries: [Descriptor] = []
        for image in images {
            let written = try await sources.read(image.source) { [report] source in
                var attempt = report
                let entries = try await writer.add(source, names: image.names, report: &attempt)
                return (entries, attempt)
            }.value
            entries += written.0
            report = written.1
        }
        try writer.finish(entries)
        if archive { try BundleArchive.write(layout, to: output) }
        return report
    }

    /// Validates the bundle at `path` (a layout directory or a tar file, extracted to a
    /// temporary directory first), then places every image at `destination(reference)`.
    /// Nothing is placed unless every blob of every image is there and whole.
    static func load(_ path: URL, copier: ImageCopier, destination: (Reference) -> Reference) async throws
        -> [(Reference, OCILayoutPush.Report)]
    {
        let loader = BundleLoader(copier: copier)
        guard BundleArchive.isArchive(path.path) else {
            return try await loader.load(path, try BundleLoader.validate(path), destination: destination)
        }
        let staging = URL(fileURLWithPath: RunTemporaries.newPath(
            in: FileManager.default.temporaryDirectory.path, prefix: "imageprep-bundle-"))
        defer { RunTemporaries.release(staging.path) }
        let extracted = try BundleArchive.extract(path, into: staging)
        let entries = try BundleLoader.validate(staging, name: path.path, verified: extracted.verified)
        return try await loader.load(staging, entries, destination: destination)
    }
}

extension ImageOperations {
    /// Writes the given source images into a bundle at `output` (a directory, or a `.tar`).
    public func bundleCreate(_ images: [String], output: URL) async throws -> BundleWriter.Report {
        var bundled: [BundleImage] = []
        for image in images {
            let reference = try Self.reference(image)
            bundled.append(BundleImage(names: [reference], source: reference))
        }
        try sources.checkNotBlocked(bundled.map(\.source))
        return try await BundleWork.create(bundled, output: output, client: client, sources: sources)
    }

    /// Places every image of the bundle at `registry` (a push registry or the image-serve
    /// directory's registry), keeping each image's repository and tag.
    public func bundleLoad(_ bundle: URL, registry: String) async throws -> [(Reference, OCILayoutPush.Report)] {
        let copier = ImageCopier(client: client, destinations: destinations)
        return try await BundleWork.load(bundle, copier: copier) { source in
            Reference(registry: registry, repository: source.repository, tag: source.tag)
        }
    }
}

extension PrepareWorkflow {
    /// `bundle create -e ENV`: every source image a prepare of the env copies or modifies,
    /// found by the resolve stage of `--dry-run --discover` (tags from labels, read from the
    /// sources only), written into a bundle at `output` under the name the env gives it and
    /// the one its labels give it.
    public func bundle(output: URL) async throws -> BundleWriter.Report {
        let plan = try loadPlan()
        let session = try RegistrySession(
            plan: plan, options: options.registry, modification: options.modification, readsDestinations: false)
        let (resolutions, failures) = await PrepareStages(
            resolver: session, transfer: session, concurrency: options.registry.concurrency
        ).resolve(plan)
        guard failures.isEmpty else { throw PrepareError.imagesFailed(failures) }
        let images = try Self.bundleImages(resolutions, session: session)
        guard !images.isEmpty else {
            throw BundleError.nothingToBundle((options.environmentDirectories + options.environmentFiles).joined(separator: ", "))
        }
        return try await BundleWork.create(images, output: output, client: session.client, sources: session.sources)
    }

    /// The images a prepare reads to copy or modify, once each, in plan order.
    static func bundleImages(_ resolutions: [ImageResolution], session: RegistrySession) throws -> [BundleImage] {
        var images: [BundleImage] = []
        var seen = Set<Reference>()
        for resolution in resolutions where resolution.work != .none && !ImageName.isLocal(resolution.resolved.image.imageName) {
            let named = try Reference(resolution.resolved.image.pullName)
            var names = [named]
            if let tag = resolution.resolved.tag, tag != named.tag { names.append(named.withTag(tag)) }
            names = names.filter { seen.insert($0).inserted }
            guard !names.isEmpty else { continue }
            let source = session.pinned(try session.sourceReference(resolution.resolved.image), resolution.sourceDigest)
            images.append(BundleImage(names: names, source: source))
        }
        return images
    }
}
