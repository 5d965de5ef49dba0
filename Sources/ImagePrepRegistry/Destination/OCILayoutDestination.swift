import Foundation
import ImagePrepConcurrency
import ImagePrepOCI

/// An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/…`) as a
/// destination: the hand-off to tools that read layouts, such as `buildah pull oci:DIR:REF`
/// loading an image into local container storage. Blobs are written through the same
/// verified file writer as image-serve's (temporary file, digest and size checked, renamed
/// into place, never through a link); a tagged manifest becomes the `index.json` entry named
/// by its tag (`org.opencontainers.image.ref.name`). The directory is the caller's and meant
/// for one run: one writer, no lock.
public final class OCILayoutDestination: ImageDestination {
    public let root: URL
    let client: RegistryClient
    private let entries = Locked<[Descriptor]>([])

    /// The annotation naming an index entry.
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"

    /// Creates the layout in `root` (created if missing).
    public init(root: URL, client: RegistryClient) throws(ImageServeError) {
        self.root = root
        self.client = client
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw ImageServeError(path: root.path, message: "cannot create the directory")
        }
        _ = try ImageServeFiles.writeIfChanged(Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8),
                                               to: root.appendingPathComponent("oci-layout"), under: root)
        try writeIndex([])
    }

    private func blobs(create: Bool) throws(ImageServeError) -> DirectoryHandle? {
        try DirectoryHandle.open(root.appendingPathComponent("blobs/sha256"), under: root, create: create)
    }

    private func has(_ digest: Digest) -> Bool {
        guard digest.algorithm == "sha256", let directory = try? blobs(create: false) else { return false }
        return directory.kind(digest.encoded) == S_IFREG
    }

    public func manifest(_ reference: Reference) async throws -> Descriptor? {
        let entries = entries.withLock { $0 }
        if let digest = reference.digest { return entries.first { $0.digest == digest } }
        let tag = reference.tag ?? "latest"
        return entries.first { $0.annotations?[Self.refNameAnnotation] == tag }
    }

    public func mount(_ descriptor: Descriptor, into repository: Reference, candidates: [String]) async throws -> MountAttempt {
        has(descriptor.digest) ? .present : .notMounted(uploadLocation: nil)
    }

    public func putBlob(
        _ descriptor: Descriptor, from source: BlobSource, into repository: Reference, uploadLocation: String?,
        attempts: RetryBudget?, progress: ByteProgress
    ) async throws -> Int64 {
        guard descriptor.digest.algorithm == "sha256" else {
            throw ImageServeError(path: root.path, message: "blob \(descriptor.digest): an OCI layout here holds sha256 blobs only")
        }
        guard let directory = try blobs(create: true) else {
            throw ImageServeError(path: root.path, message: "cannot create blobs/sha256")
        }
        let file = try BlobFile(in: directory, for: descriptor.digest.encoded, hashing: !source.verifiesItself)
        do {
            try await source.fill(file, descriptor: descriptor, client: client, attempts: attempts, progress: progress)
            guard file.count == descriptor.size else {
                throw ImageServeError(path: root.path, message: "blob \(descriptor.digest) has \(file.count) bytes, expected \(descriptor.size)")
            }
            if let digest = file.digest, digest != descriptor.digest {
                throw ImageServeError(path: root.path, message: "blob \(descriptor.digest) arrived with digest \(digest)")
            }
            try file.finish()
            guard renameat(directory.fd, file.name, directory.fd, descriptor.digest.encoded) == 0 else {
                throw ImageServeError.errno(root.path, "cannot put blob \(descriptor.digest) in place")
            }
        } catch {
            file.abandon()
            throw error
        }
        return descriptor.size
    }

    public func putManifest(_ bytes: Data, mediaType: MediaType, to reference: Reference) async throws {
        let digest = Digest(of: bytes)
        if !has(digest) {
            _ = try await putBlob(
                Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count)), from: .data(bytes),
                into: reference, uploadLocation: nil, attempts: nil, progress: .none)
        }
        // A platform manifest put by digest is a blob the list names; a tag is an index entry.
        guard reference.digest == nil else { return }
        let tag = reference.tag ?? "latest"
        var entry = Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
        entry.annotations = [Self.refNameAnnotation: tag]
        let updated = entries.withLock { entries in
            entries.removeAll { $0.annotations?[Self.refNameAnnotation] == tag }
            entries.append(entry)
            return entries
        }
        try writeIndex(updated)
    }

    private func writeIndex(_ manifests: [Descriptor]) throws(ImageServeError) {
        let index = Index(mediaType: .ociIndex, manifests: manifests)
        let data: Data
        do {
            data = try JSONEncoder().encode(index)
        } catch {
            throw ImageServeError(path: root.path, message: "cannot encode index.json")
        }
        _ = try ImageServeFiles.writeIfChanged(data, to: root.appendingPathComponent("index.json"), under: root)
    }
}
