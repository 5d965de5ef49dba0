import Foundation
import ImagePrepConcurrency
import ImagePrepFiles

#if canImport(Glibc)
import Glibc
import ImagePrepOCI
#endif


/// A file being written under a temporary name: bytes are hashed and counted as they go;
/// `finish` flushes them to disk.
final class BlobFile: @unchecked Sendable {
    // One writer at a time (the transfer thread of one request, or the caller).
    /// The directory it is written in, and its temporary name there.
    let directory: DirectoryHandle
    let name: String
    var url: URL { directory.url.appendingPathComponent(name, isDirectory: false) }
    /// The name the file is written for, for errors (never the temporary's).
    let finalName: String
    private let fd: Int32
    /// nil when the writer's caller verifies the bytes itself.
    private var hasher: DigestHasher?
    private(set) var count: Int64 = 0
    private var closed = false

    /// Creates a temporary file of this run in `directory` (`O_EXCL|O_NOFOLLOW`).
    init(in directory: DirectoryHandle, for finalName: String, hashing: Bool = true) throws(ImageServeError) {
        self.directory = directory
        hasher = hashing ? DigestHasher() : nil
        self.finalName = finalName
        name = RunTemporaries.name(prefix: ImageServeFiles.temporaryPrefix)
        fd = openat(directory.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .errno(directory.url.path, "cannot create a file for \(finalName)") }
        fchmod(fd, 0o644)
        // Removed if a signal ends the run while it is being written.
        RunTemporaries.track(directory.url.appendingPathComponent(name, isDirectory: false).path)
    }

    deinit {
        if !closed { close(fd) }
        RunTemporaries.untrack(url.path)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(ImageServeError) {
        hasher?.update(bytes)
        count += Int64(bytes.count)
        do {
            try DurableFile.writeAll(bytes, to: fd, path: directory.url.path)
        } catch {
            throw ImageServeError(error, operation: "cannot write \(finalName)")
        }
    }

    func write(_ data: Data) throws(ImageServeError) {
        hasher?.update(data)
        count += Int64(data.count)
        do {
            try DurableFile.writeAll(data, to: fd, path: directory.url.path)
        } catch {
            throw ImageServeError(error, operation: "cannot write \(finalName)")
        }
    }

    /// The digest of the bytes written (nil when created without hashing).
    var digest: Digest? { hasher?.finalize() }

    /// Flushes and closes the file; with `recording`, records the verified digest on it
    /// (see ``ImageServeFiles/digestAttribute``).
    func finish(recording digest: Digest? = nil) throws(ImageServeError) {
        guard !closed else { return }
        closed = true
        let synced = fsync(fd) == 0
        if synced, let digest { ImageServeFiles.recordDigest(digest, on: fd) }
        let closedOK = close(fd) == 0
        guard synced, closedOK else { throw .errno(directory.url.path, "cannot flush \(finalName) to disk") }
    }

    /// Closes and removes the file.
    func abandon() {
        if !closed {
            closed = true
            close(fd)
        }
        unlinkat(directory.fd, name, 0)
    }
}
