import ImagePrepConcurrency
import Foundation
import ImagePrepOCI

/// A blob being downloaded, read as a byte stream from any thread (for
/// libarchive's pull-style reader); at most a small buffer is held. The
/// digest is checked at the end: a corrupt blob fails the last read.
public final class BlobStream: Sendable {
    let pipe = BlobPipe(capacity: 1024 * 1024)
    private let task = Locked<Task<Void, Never>?>(nil)

    /// Blocks until bytes arrive; 0 at the end of a verified blob.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try pipe.read(into: buffer)
    }

    /// Stops the download (when the reader has what it needs).
    public func cancel() {
        pipe.fail(CancellationError())
        task.withLock { $0?.cancel() }
    }

    func start(_ body: @escaping @Sendable () async throws -> Void) {
        let pipe = self.pipe
        task.withLock {
            $0 = Task {
                do {
                    try await body()
                    pipe.finish()
                } catch {
                    pipe.fail(error)
                }
            }
        }
    }
}

extension RegistryClient {
    /// Starts downloading a blob and returns the stream to read it from.
    public func streamBlob(_ repository: Reference, descriptor: Descriptor) -> BlobStream {
        let stream = BlobStream()
        let pipe = stream.pipe
        stream.start {
            _ = try await self.fetchBlob(repository, descriptor: descriptor) { bytes in try pipe.write(bytes) }
        }
        return stream
    }
}
