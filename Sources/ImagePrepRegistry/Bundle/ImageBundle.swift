import Foundation
import ImagePrepConcurrency
import ImagePrepOCI

/// An offline bundle: an OCI image layout directory (`oci-layout`, `index.json`,
/// `blobs/sha256/…`) holding the images a prepare needs, each index entry annotated with
/// `org.opencontainers.image.ref.name` = the image's full source reference
/// (`registry/repository:tag`), so `skopeo copy oci:DIR:REFERENCE …` reads it. A blob shared
/// by several images is stored once; every file is written to a temporary name and renamed.
public enum ImageBundle {
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
    /// Marks an index entry that is an OCI copy of a Docker schema 2 manifest (its digest the
    /// value), for tools that read only OCI manifests from a layout (skopeo's `oci:`):
    /// `bundle load` places the Docker manifest itself, so digests stay the source's.
    public static let ociViewAnnotation = "org.openstack.tripleo.imageprep.oci-view-of"
    /// The largest manifest, index or `oci-layout` file a bundle may hold.
    public static let maxDocumentSize: Int64 = 4 * 1024 * 1024

    /// One image of a bundle: a source reference and the manifest it names.
    public struct Entry: Sendable, Equatable {
        public var reference: Reference
        public var manifest: Descriptor
        /// The manifest's config blob, and the size of its config and layers.
        public var config: Descriptor
        public var size: Int64
    }

    /// A blob's path inside the layout, `blobs/sha256/<hex>`.
    public static func blobPath(_ digest: Digest) -> String {
        "blobs/\(digest.algorithm)/\(digest.encoded)"
    }

    public static func blobURL(_ digest: Digest, in layout: URL) -> URL {
        layout.appendingPathComponent(blobPath(digest))
    }

    /// The size of the regular file at `url`, nil when there is none.
    public static func fileSize(_ url: URL) -> Int64? {
        var info = stat()
        guard lstat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }
}

/// A bundle that cannot be written or read, naming the bundle, the file and the image.
public enum BundleError: Error, Equatable, CustomStringConvertible {
    case io(String, String)
    /// The bundle (directory or tar file) and what is wrong with it.
    case invalid(String, String)
    case missingBlob(bundle: String, file: String, digest: Digest, image: String)
    /// A blob whose bytes are not those its name and the manifests give (`reason`).
    case damagedBlob(bundle: String, file: String, image: String?, reason: String)
    /// `bundle create -e`: the env copies or modifies no image.
    case nothingToBundle(String)

    public var description: String {
        switch self {
        case .io(let path, let reason): "bundle: \(path): \(reason)"
        case .invalid(let bundle, let reason): "bundle \(bundle): \(reason)"
        case .missingBlob(let bundle, let file, let digest, let image):
            "bundle \(bundle): \(file) (blob \(digest) of \(image)) is missing; nothing was loaded"
        case .damagedBlob(let bundle, let file, let image, let reason):
            "bundle \(bundle): \(file)\(image.map { " (of \($0))" } ?? "") is damaged: \(reason); nothing was loaded"
        case .nothingToBundle(let files):
            "\(files): a prepare of this environment copies no image (no push_destination): nothing to bundle"
        }
    }
}

/// Writes images into a bundle directory: blobs placed through ``ImageCopier`` into an
/// ``OCILayoutDestination`` (the one verified blob writer and retry: temporary file, digest
/// and size checked, renamed into place; a blob already there is not fetched again); the
/// index last, naming each image by its full reference.
public struct BundleWriter: Sendable {
    public let layout: URL
    let copier: ImageCopier

    /// Creates `layout` when absent.
    public init(client: RegistryClient, layout: URL) throws(BundleError) {
        self.layout = layout
        let destination: OCILayoutDestination
        do {
            destination = try OCILayoutDestination(root: layout, client: client)
        } catch {
            throw .io(layout.path, error.message)
        }
        copier = ImageCopier(client: client, destinations: DestinationRouter(client: client, every: destination))
    }

    public struct Report: Sendable, Equatable {
        /// Each index entry: the reference and the manifest's digest.
        public var images: [(reference: Reference, digest: Digest)] = []
        public var blobsWritten = 0
        /// Blobs the bundle already held (shared with an image written before).
        public var blobsShared = 0
        public var bytesWritten: Int64 = 0

        public init() {}

        public static func == (lhs: Report, rhs: Report) -> Bool {
            lhs.images.map(\.reference) == rhs.images.map(\.reference) && lhs.images.map(\.digest) == rhs.images.map(\.digest)
                && lhs.blobsWritten == rhs.blobsWritten && lhs.blobsShared == rhs.blobsShared && lhs.bytesWritten == rhs.bytesWritten
        }
    }

    /// Writes the image `source` names (its platform's manifest, with its config and layers)
    /// and returns its index entries, one per name in `names`, with `report` counted on.
    public func add(_ source: Reference, names: [Reference], report: inout Report) async throws -> [Descriptor] {
        let image = try await copier.client.resolveImage(source)
        for placement in try await copier.copyBlobs(image.manifest.blobs, from: source, to: source) {
            switch placement {
            case .copied(let bytes):
                report.blobsWritten += 1
                report.bytesWritten = report.bytesWritten.addingSaturated(bytes)
            case .alreadyPresent, .mounted:
                report.blobsShared += 1
            }
        }
        // By digest: a blob of the layout, not an index entry of its own.
        try await copier.putManifest(image.raw.bytes, mediaType: image.raw.mediaType, to: source.withDigest(image.raw.digest))
        var entries: [Descriptor] = names.map { name in
            var descriptor = image.raw.descriptor
            descriptor.annotations = [ImageBundle.refNameAnnotation: name.description]
            report.images.append((name, image.raw.digest))
            return descriptor
        }
        if let view = try Self.ociView(of: image.manifest, mediaType: image.raw.mediaType) {
            try await copier.putManifest(view, mediaType: .ociManifest, to: source.withDigest(Digest(of: view)))
            for name in names {
                var descriptor = Descriptor(mediaType: .ociManifest, digest: Digest(of: view), size: Int64(view.count))
                descriptor.annotations = [ImageBundle.refNameAnnotation: name.description,
                                          ImageBundle.ociViewAnnotation: image.raw.digest.description]
                entries.append(descriptor)
            }
        }
        return entries
    }

    /// The OCI manifest of the same config and layers as a Docker schema 2 manifest (nil for
    /// an OCI one): only the media types differ.
    static func ociView(of manifest: Manifest, mediaType: MediaType) throws -> Data? {
        guard mediaType == .dockerManifest else { return nil }
        let foreign: MediaType = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
        var view = Manifest(
            mediaType: .ociManifest,
            config: Descriptor(mediaType: .ociConfig, digest: manifest.config.digest, size: manifest.config.size),
            layers: manifest.layers.map { layer in
                var converted = layer
                if layer.mediaType == .dockerLayer { converted.mediaType = .ociLayer }
                if layer.mediaType == foreign { converted.mediaType = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" }
                return converted
            })
        view.annotations = manifest.annotations
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(view)
    }

    /// Writes `index.json` listing `entries`, replaced whole (`oci-layout` is the destination's).
    public func finish(_ entries: [Descriptor]) throws(BundleError) {
        let index = Index(mediaType: .ociIndex, manifests: entries)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do {
            try ImageServeFiles.writeIfChanged(try encoder.encode(index), to: layout.appendingPathComponent("index.json"), under: layout)
        } catch let error as ImageServeError {
            throw .io(layout.path, error.message)
        } catch {
            throw .io(layout.path, "\(error)")
        }
    }
}

/// Reads and validates a bundle, then places its images through ``OCILayoutPush``.
public struct BundleLoader: Sendable {
    public let push: OCILayoutPush

    public init(copier: ImageCopier) {
        push = OCILayoutPush(copier: copier)
    }

    /// The bundle's images, after checking that every blob each names is there with the
    /// size and digest its manifest gives (one clear error otherwise). `name` names the
    /// bundle in errors (a tar file extracted to `layout`); blobs in `verified` had their
    /// digest checked already and only their size is.
    public static func validate(_ layout: URL, name: String? = nil, verified: Set<Digest> = []) throws(BundleError)
        -> [ImageBundle.Entry]
    {
        let bundle = name ?? layout.path
        let indexURL = layout.appendingPathComponent("index.json")
        guard let size = ImageBundle.fileSize(indexURL) else {
            throw .invalid(bundle, "no index.json: not an OCI image layout")
        }
        guard size <= ImageBundle.maxDocumentSize else { throw .invalid(bundle, "index.json is \(size) bytes, more than a bundle's index may be") }
        let index: Index
        do {
            index = try JSONDecoder().decode(Index.self, from: try Data(contentsOf: indexURL))
        } catch {
            throw .invalid(bundle, "index.json is not an OCI index")
        }
        var entries: [ImageBundle.Entry] = []
        var names = Set<Reference>()
        var checked = verified
        // OCI copies of Docker manifests are for other tools: the Docker manifest is loaded.
        for descriptor in index.manifests where descriptor.annotations?[ImageBundle.ociViewAnnotation] == nil {
            guard let text = descriptor.annotations?[ImageBundle.refNameAnnotation] else {
                throw .invalid(bundle, "manifest \(descriptor.digest) in index.json has no \(ImageBundle.refNameAnnotation)")
            }
            let image = text.escapingControlCharacters()
            let reference: Reference
            do { reference = try Reference(text) } catch {
                throw .invalid(bundle, "\(ImageBundle.refNameAnnotation) \"\(image)\" in index.json is not an image reference")
            }
            guard names.insert(reference).inserted else { throw .invalid(bundle, "index.json names \(image) twice") }
            guard descriptor.mediaType == .ociManifest || descriptor.mediaType == .dockerManifest else {
                throw .invalid(bundle, "\(image) in index.json is a \(descriptor.mediaType.rawValue.escapingControlCharacters()), not one image manifest")
            }
            guard descriptor.size <= ImageBundle.maxDocumentSize else {
                throw .invalid(bundle, "the manifest of \(image) is \(descriptor.size) bytes, more than a bundle's manifest may be")
            }
            try check(descriptor, image: image, in: layout, bundle: bundle, checked: &checked)
            let manifest: Manifest
            do {
                manifest = try JSONDecoder().decode(Manifest.self, from: try Data(contentsOf: ImageBundle.blobURL(descriptor.digest, in: layout)))
            } catch {
                throw .invalid(bundle, "the manifest of \(image) (\(ImageBundle.blobPath(descriptor.digest))) is not an image manifest")
            }
            for blob in manifest.blobs {
                try check(blob, image: image, in: layout, bundle: bundle, checked: &checked)
            }
            entries.append(ImageBundle.Entry(reference: reference, manifest: descriptor, config: manifest.config, size: manifest.blobs.totalSize))
        }
        guard !entries.isEmpty else { throw .invalid(bundle, "index.json lists no image") }
        return entries
    }

    /// Checks one blob file's size, and its digest unless `checked` holds it already.
    private static func check(_ blob: Descriptor, image: String, in layout: URL, bundle: String, checked: inout Set<Digest>)
        throws(BundleError)
    {
        let path = ImageBundle.blobPath(blob.digest)
        let url = layout.appendingPathComponent(path)
        guard let size = ImageBundle.fileSize(url) else {
            throw .missingBlob(bundle: bundle, file: path, digest: blob.digest, image: image)
        }
        guard size == blob.size else {
            throw .damagedBlob(bundle: bundle, file: path, image: image, reason: "it is \(size) bytes where the manifest says \(blob.size)")
        }
        guard !checked.contains(blob.digest) else { return }
        let actual = try digest(of: url, algorithm: blob.digest.algorithm)
        guard actual == blob.digest else {
            throw .damagedBlob(bundle: bundle, file: path, image: image, reason: "its bytes have digest \(actual)")
        }
        checked.insert(blob.digest)
    }

    static func digest(of url: URL, algorithm: String) throws(BundleError) -> Digest {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { throw .io(url.path, "cannot read") }
        defer { try? handle.close() }
        var hasher = DigestHasher(algorithm: algorithm)
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch { throw .io(url.path, error.localizedDescription) }
            if chunk.isEmpty { break }
            hasher.update(chunk)
        }
        return hasher.finalize()
    }

    /// Places every image of the validated `entries` at `destination(reference)`.
    public func load(_ layout: URL, _ entries: [ImageBundle.Entry], destination: (Reference) -> Reference) async throws
        -> [(Reference, OCILayoutPush.Report)]
    {
        var done: [(Reference, OCILayoutPush.Report)] = []
        for entry in entries {
            let target = destination(entry.reference)
            done.append((target, try await push.push(layout: layout, manifest: entry.manifest, to: target)))
        }
        return done
    }
}
