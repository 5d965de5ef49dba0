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
    /// The largest manifest or index file a bundle may hold.
    public static let maxDocumentSize: Int64 = 4 * 1024 * 1024

    /// The bundle's images: each source reference and the manifest it names.
    public struct Entry: Sendable, Equatable {
        public var reference: Reference
        public var manifest: Descriptor
    }

    static func blobURL(_ digest: Digest, in layout: URL) -> URL {
        layout.appendingPathComponent("blobs/\(digest.algorithm)/\(digest.encoded)")
    }

    /// Writes `data` to `url` through a temporary file in the same directory and a rename.
    static func writeAtomically(_ data: Data, to url: URL) throws(BundleError) {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try data.write(to: temporary)
            guard rename(temporary.path, url.path) == 0 else { throw BundleError.io(url.path, String(cString: strerror(errno))) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw .io(url.path, "\(error)")
        }
    }
}

public enum BundleError: Error, Equatable, CustomStringConvertible {
    case io(String, String)
    case invalid(String, String)
    case missingBlob(String, Digest, image: String)
    case digestMismatch(String, expected: Digest, actual: Digest)
    case sizeMismatch(String, expected: Int64, actual: Int64)

    public var description: String {
        switch self {
        case .io(let path, let reason): "bundle: \(path): \(reason)"
        case .invalid(let path, let reason): "bundle \(path): \(reason)"
        case .missingBlob(let path, let digest, let image):
            "bundle \(path): blob \(digest) of \(image) is missing from blobs/\(digest.algorithm)/"
        case .digestMismatch(let path, let expected, let actual):
            "bundle \(path): blob \(expected) has digest \(actual): the bundle is damaged"
        case .sizeMismatch(let path, let expected, let actual):
            "bundle \(path): blob is \(actual) bytes where the index says \(expected): the bundle is damaged"
        }
    }
}

/// Writes the images of a plan into a bundle directory.
public struct BundleWriter: Sendable {
    public let client: RegistryClient

    public init(client: RegistryClient) {
        self.client = client
    }

    public struct Report: Sendable, Equatable {
        public var images = 0
        public var blobsWritten = 0
        public var blobsShared = 0
        public var bytesWritten: Int64 = 0
    }

    /// Each source image (its platform's manifest) into `layout`, which is created when absent.
    public func write(_ sources: [Reference], to layout: URL) async throws -> Report {
        let files = FileManager.default
        do {
            try files.createDirectory(at: layout.appendingPathComponent("blobs/sha256"), withIntermediateDirectories: true)
        } catch {
            throw BundleError.io(layout.path, "\(error)")
        }
        var report = Report()
        var entries: [Descriptor] = []
        var seen = Set<Reference>()
        for source in sources where seen.insert(source).inserted {
            let image = try await client.resolveImage(source)
            for blob in image.manifest.blobs {
                let url = ImageBundle.blobURL(blob.digest, in: layout)
                if let size = (try? files.attributesOfItem(atPath: url.path))?[.size] as? Int64, size == blob.size,
                   (try? Self.verify(url, blob, layout: layout)) != nil
                {
                    report.blobsShared += 1
                    continue
                }
                try await fetch(blob, from: source, to: url)
                report.blobsWritten += 1
                report.bytesWritten = report.bytesWritten.addingSaturated(blob.size)
            }
            try ImageBundle.writeAtomically(image.raw.bytes, to: ImageBundle.blobURL(image.raw.digest, in: layout))
            var descriptor = image.raw.descriptor
            descriptor.annotations = [ImageBundle.refNameAnnotation: source.description]
            entries.append(descriptor)
            report.images += 1
        }
        var index = Index(mediaType: .ociIndex, manifests: entries)
        index.annotations = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let indexData: Data
        do { indexData = try encoder.encode(index) } catch { throw BundleError.io(layout.path, "\(error)") }
        try ImageBundle.writeAtomically(Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), to: layout.appendingPathComponent("oci-layout"))
        try ImageBundle.writeAtomically(indexData, to: layout.appendingPathComponent("index.json"))
        return report
    }

    /// Streams one blob into a temporary file, verified by `fetchBlob`, then renames it.
    private func fetch(_ blob: Descriptor, from source: Reference, to url: URL) async throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(blob.digest.encoded).\(UUID().uuidString).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
              let handle = FileHandle(forWritingAtPath: temporary.path)
        else { throw BundleError.io(temporary.path, "cannot create") }
        let sink = FileSink(handle: handle)
        do {
            _ = try await client.fetchBlob(source, descriptor: blob) { try sink.write($0) }
            try handle.synchronize()
            try handle.close()
            if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
            try FileManager.default.moveItem(at: temporary, to: url)
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Checks a blob file's size and digest against its descriptor.
    static func verify(_ url: URL, _ blob: Descriptor, layout: URL) throws(BundleError) {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw .missingBlob(layout.path, blob.digest, image: "the bundle")
        }
        defer { try? handle.close() }
        var hasher = DigestHasher(algorithm: blob.digest.algorithm)
        var total: Int64 = 0
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch { throw .io(url.path, "\(error)") }
            if chunk.isEmpty { break }
            total = total.addingSaturated(Int64(chunk.count))
            guard total <= blob.size else { throw .sizeMismatch(layout.path, expected: blob.size, actual: total) }
            hasher.update(chunk)
        }
        guard total == blob.size else { throw .sizeMismatch(layout.path, expected: blob.size, actual: total) }
        let actual = hasher.finalize()
        guard actual == blob.digest else { throw .digestMismatch(layout.path, expected: blob.digest, actual: actual) }
    }
}

private final class FileSink: @unchecked Sendable {
    // Only the transfer thread of the one request writes.
    private let handle: FileHandle
    init(handle: FileHandle) { self.handle = handle }
    func write(_ bytes: UnsafeRawBufferPointer) throws { try handle.write(contentsOf: Data(bytes)) }
}

/// Reads and validates a bundle, then places its images through ``OCILayoutPush``.
public struct BundleLoader: Sendable {
    public let push: OCILayoutPush

    public init(copier: ImageCopier) {
        push = OCILayoutPush(copier: copier)
    }

    /// The bundle's images, after checking that every blob each names is there with the
    /// size and digest the manifests give (one clear error otherwise).
    public static func validate(_ layout: URL) throws -> [ImageBundle.Entry] {
        let indexURL = layout.appendingPathComponent("index.json")
        let size = ((try? FileManager.default.attributesOfItem(atPath: indexURL.path))?[.size] as? Int64) ?? -1
        guard size >= 0 else { throw BundleError.invalid(layout.path, "no index.json: not an OCI image layout") }
        guard size <= ImageBundle.maxDocumentSize else { throw BundleError.invalid(layout.path, "index.json is \(size) bytes") }
        let index: Index
        do {
            index = try JSONDecoder().decode(Index.self, from: try Data(contentsOf: indexURL))
        } catch {
            throw BundleError.invalid(layout.path, "index.json is not an OCI index")
        }
        var entries: [ImageBundle.Entry] = []
        for descriptor in index.manifests {
            guard let name = descriptor.annotations?[ImageBundle.refNameAnnotation] else {
                throw BundleError.invalid(layout.path, "manifest \(descriptor.digest) has no \(ImageBundle.refNameAnnotation)")
            }
            let reference: Reference
            do { reference = try Reference(name) } catch {
                throw BundleError.invalid(layout.path, "\(ImageBundle.refNameAnnotation) \"\(name)\" is not an image reference")
            }
            guard descriptor.size <= ImageBundle.maxDocumentSize else {
                throw BundleError.invalid(layout.path, "manifest of \(name) is \(descriptor.size) bytes")
            }
            let manifestURL = ImageBundle.blobURL(descriptor.digest, in: layout)
            guard FileManager.default.fileExists(atPath: manifestURL.path) else {
                throw BundleError.missingBlob(layout.path, descriptor.digest, image: name)
            }
            try BundleWriter.verify(manifestURL, descriptor, layout: layout)
            let manifest: Manifest
            do { manifest = try JSONDecoder().decode(Manifest.self, from: try Data(contentsOf: manifestURL)) } catch {
                throw BundleError.invalid(layout.path, "manifest of \(name) is not an image manifest")
            }
            for blob in manifest.blobs {
                guard FileManager.default.fileExists(atPath: ImageBundle.blobURL(blob.digest, in: layout).path) else {
                    throw BundleError.missingBlob(layout.path, blob.digest, image: name)
                }
                try BundleWriter.verify(ImageBundle.blobURL(blob.digest, in: layout), blob, layout: layout)
            }
            entries.append(ImageBundle.Entry(reference: reference, manifest: descriptor))
        }
        return entries
    }

    /// Places every image of the bundle at `destination(reference)`.
    public func load(_ layout: URL, destination: (Reference) -> Reference) async throws -> [(Reference, OCILayoutPush.Report)] {
        var done: [(Reference, OCILayoutPush.Report)] = []
        for entry in try Self.validate(layout) {
            let target = destination(entry.reference)
            done.append((target, try await push.push(layout: layout, manifest: entry.manifest, to: target)))
        }
        return done
    }
}
