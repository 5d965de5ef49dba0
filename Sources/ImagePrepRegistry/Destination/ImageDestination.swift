import Foundation
import ImagePrepConcurrency
import ImagePrepOCI

/// Where a blob's bytes come from when it has to be transferred.
public enum BlobSource: Sendable {
    /// Streamed from a repository of a registry.
    case registry(Reference)
    /// Read from a file (an OCI layout's blob, a layer just written).
    case file(URL)
    case data(Data)
}

/// What an attempt to make a blob available without transferring it achieved.
public enum MountAttempt: Sendable, Equatable {
    /// The repository holds it already.
    case present
    /// Linked from another repository of the same destination.
    case mounted
    /// Not there and not linked; a registry opened an upload session to use instead.
    case notMounted(uploadLocation: String?)
}

/// Where copied images go: blobs and manifests, checked and put. A registry (its push API)
/// and an image-serve directory (files httpd serves) are the two kinds; the copy pipeline
/// (``ImageCopier``, ``OCILayoutPush``, the layer engine) works through this only.
public protocol ImageDestination: Sendable {
    /// The manifest `reference`'s digest, or else its tag, names at the destination; nil
    /// when there is none.
    func manifest(_ reference: Reference) async throws -> Descriptor?

    /// Makes a blob available in `repository` without transferring it when it can: it is
    /// there already, or another repository of the destination holds it (`candidates`, known
    /// to hold it, preferred first).
    func mount(_ descriptor: Descriptor, into repository: Reference, candidates: [String]) async throws -> MountAttempt

    /// Puts the blob's bytes from `source`, committed only when its digest and size match
    /// the descriptor; `uploadLocation` is a session a refused mount opened; `attempts` is the
    /// budget of the transfer's retries, which a download from a registry source continued
    /// after a cut (into the same upload or file) draws on; `progress` hears the bytes streamed
    /// from a registry source as they arrive. Returns the bytes transferred.
    func putBlob(
        _ descriptor: Descriptor, from source: BlobSource, into repository: Reference, uploadLocation: String?,
        attempts: RetryBudget?, progress: ByteProgress
    ) async throws -> Int64

    /// Puts a manifest byte for byte (its digest does not change) under `reference`'s tag,
    /// or only by digest when the reference names a digest (a list's platform manifest).
    func putManifest(_ bytes: Data, mediaType: MediaType, to reference: Reference) async throws
}

extension BlobSource {
    /// Whether the bytes `fill` writes are verified on the way (a registry fetch checks the
    /// digest of the very bytes it hands on, and throws before returning otherwise).
    var verifiesItself: Bool {
        if case .registry = self { return true }
        return false
    }

    /// Writes the blob's bytes into `file`: streamed from the registry (a cut download
    /// continues into the same file, see ``BlobResume``), copied from a file, or the data.
    func fill(
        _ file: BlobFile, descriptor: Descriptor, client: RegistryClient, attempts: RetryBudget?, progress: ByteProgress
    ) async throws {
        switch self {
        case .registry(let origin):
            _ = try await client.fetchBlob(origin, descriptor: descriptor, attempts: attempts, progress: progress) {
                bytes in try file.write(bytes)
            }
        case .file(let url):
            guard let handle = FileHandle(forReadingAtPath: url.path) else {
                throw ImageServeError(path: url.path, message: "cannot read the blob")
            }
            defer { try? handle.close() }
            while let chunk = try handle.read(upToCount: 1024 * 1024), !chunk.isEmpty {
                try file.write(chunk)
            }
        case .data(let data):
            try file.write(data)
        }
    }
}
