import Foundation
import ImagePrepConcurrency
import ImagePrepFiles

#if canImport(Glibc)
import Glibc
import ImagePrepOCI
#endif

extension ImageServeDirectory {
    /// A blob file: its directory (opened without following links) and its name there.
    struct BlobLocation {
        var directory: DirectoryHandle
        var name: String
    }

    /// The blob's file in `repository`, under either name, when it is a whole copy (see
    /// ``isWhole(_:in:_:)``): a truncated or damaged file (what tripleo-common's exporter leaves
    /// when it is killed, as it writes in place) is not there, and is replaced when the blob is
    /// written or linked.
    public func blobFile(_ descriptor: Descriptor, in repository: String) -> URL? {
        wholeBlob(descriptor, in: repository).map { $0.directory.url.appendingPathComponent($0.name, isDirectory: false) }
    }

    /// `repository`'s `blobs` directory, opened once per run; nil when it is missing and not
    /// to be created.
    func blobsHandle(_ repository: String, create: Bool) throws(ImageServeError) -> DirectoryHandle? {
        if let opened = openedBlobDirectories.withLock({ $0[repository] }) { return opened }
        guard let opened = try DirectoryHandle.open(blobsDirectory(repository), under: root, create: create) else { return nil }
        openedBlobDirectories.withLock { directories in
            if directories.count >= Self.openedLimit { directories.removeAll() }
            directories[repository] = opened
        }
        return opened
    }

    func wholeBlob(_ descriptor: Descriptor, in repository: String) -> BlobLocation? {
        guard let blobs = try? blobsHandle(repository, create: false) else { return nil }
        for name in ["\(descriptor.digest).gz", descriptor.digest.description] where blobs.kind(name) != nil {
            return isWhole(name, in: blobs, descriptor) ? BlobLocation(directory: blobs, name: name) : nil
        }
        return nil
    }

    /// Whether `name` in `directory` is a regular file (not a link) of `descriptor`'s size
    /// whose bytes have its digest: checked once per run for each file (a hard link is the
    /// same file), and read only when imageprep has no record of it (the
    /// `user.imageprep.digest` attribute set on what it verified and flushed to disk).
    func isWhole(_ name: String, in directory: DirectoryHandle, _ descriptor: Descriptor) -> Bool {
        let fd = directory.openFile(name)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int64(info.st_size) == descriptor.size else {
            return false
        }
        let identity = CheckedFile(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modified: info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec, digest: descriptor.digest)
        if let known = checked.withLock({ $0[identity] }) { return known }
        var whole = ImageServeFiles.recordedDigest(fd) == descriptor.digest
        if !whole, ImageServeFiles.digest(of: fd, algorithm: descriptor.digest.algorithm) == descriptor.digest {
            // Verified now: flushed and recorded, so later runs need not read it again.
            fsync(fd)
            ImageServeFiles.recordDigest(descriptor.digest, on: fd)
            whole = true
        }
        checked.withLock { $0[identity] = whole }
        return whole
    }

    /// Hard-links a blob another repository holds whole into `repository` (the `candidates`
    /// first, then any repository of the directory). False when no repository holds it.
    func link(_ descriptor: Descriptor, into repository: String, candidates: [String]) throws(ImageServeError) -> Bool {
        try beginWriting()
        let others = candidates + knownHolders(of: descriptor.digest).subtracting(candidates).sorted()
        for other in others where other != repository {
            guard let existing = wholeBlob(descriptor, in: other),
                  let blobs = try blobsHandle(repository, create: true)
            else { continue }
            // Same name as the holder's: a config stays a config.
            if try place(existing, as: BlobLocation(directory: blobs, name: existing.name), descriptor, moving: false) {
                record(descriptor.digest, in: repository)
                return true
            }
        }
        return false
    }

    /// Puts the whole blob `source` at `final`: hard-linked when nothing is there; a whole
    /// copy already there (a concurrent writer's) is kept; a file there that is not whole is
    /// replaced with one rename. `moving` consumes `source` (a temporary of ours). False when
    /// `source` is gone.
    private func place(_ source: BlobLocation, as final: BlobLocation, _ descriptor: Descriptor, moving: Bool)
        throws(ImageServeError) -> Bool
    {
        let target = final.directory
        func consume() { if moving { unlinkat(source.directory.fd, source.name, 0) } }
        if linkat(source.directory.fd, source.name, target.fd, final.name, 0) == 0 {
            deferSync(target)
            consume()
            return true
        }
        let path = target.url.appendingPathComponent(final.name, isDirectory: false).path
        switch Glibc.errno {
        case EEXIST: break
        case ENOENT: return false
        default: throw .errno(path, "cannot link the blob")
        }
        if isWhole(final.name, in: target, descriptor) {
            consume()
            return true
        }
        var replacement = source.name
        if !moving {
            replacement = RunTemporaries.name(prefix: ImageServeFiles.temporaryPrefix)
            guard linkat(source.directory.fd, source.name, target.fd, replacement, 0) == 0 else {
                if Glibc.errno == ENOENT { return false }
                throw .errno(path, "cannot link the blob")
            }
        }
        if renameat(target.fd, replacement, target.fd, final.name) != 0 {
            let error = ImageServeError.errno(path, "cannot replace the damaged file")
            unlinkat(target.fd, replacement, 0)
            throw error
        }
        deferSync(target)
        return true
    }

    /// Notes that `directory` has new links to flush before a manifest names them.
    private func deferSync(_ directory: DirectoryHandle) {
        unsyncedBlobDirectories.withLock { $0[directory.url.path] = directory }
    }

    /// Flushes the links in `repository`'s `blobs` directory, once for all the blobs placed
    /// there since the last flush: before a manifest names them, they are on disk. Under the
    /// lock, so a writer that finds nothing to flush knows another's flush has finished.
    func syncBlobs(of repository: String) {
        let path = blobsDirectory(repository).standardizedFileURL.path
        unsyncedBlobDirectories.withLock { directories in
            directories.removeValue(forKey: path)?.sync()
        }
    }

    /// Writes a blob into `repository`: `fill` writes its bytes into the temporary file; its
    /// digest (here, or by `fill` when `verifiedByFill`) and size are checked against
    /// `descriptor` before it is flushed and linked into place. Returns the bytes written.
    func writeBlob(
        _ descriptor: Descriptor, into repository: String, verifiedByFill: Bool = false,
        fill: (BlobFile) async throws -> Void
    ) async throws -> Int64 {
        try beginWriting()
        let blobs = blobsDirectory(repository)
        guard let directory = try blobsHandle(repository, create: true) else {
            throw ImageServeError(path: blobs.path, message: "cannot create the directory")
        }
        let name = Self.blobName(descriptor.digest, mediaType: descriptor.mediaType)
        // A fill that verifies what it writes (a registry fetch checks the digest of the very
        // bytes it hands on, and throws before returning otherwise) is not hashed twice.
        let file = try BlobFile(in: directory, for: name, hashing: !verifiedByFill)
        do {
            try await fill(file)
            guard file.count == descriptor.size else {
                throw ImageServeError(path: blobs.path, message: "blob \(descriptor.digest) has \(file.count) bytes, expected \(descriptor.size)")
            }
            if !verifiedByFill, let digest = file.digest, digest != descriptor.digest {
                throw ImageServeError(path: blobs.path, message: "blob \(descriptor.digest) arrived with digest \(digest)")
            }
            try file.finish(recording: descriptor.digest)
            // A concurrent writer's whole copy of the same bytes wins; a damaged file is replaced.
            let written = BlobLocation(directory: directory, name: file.name)
            guard try place(written, as: BlobLocation(directory: directory, name: name), descriptor, moving: true) else {
                throw ImageServeError(path: blobs.path, message: "the written blob \(descriptor.digest) disappeared")
            }
        } catch let error as ImageServeError where error.isOutOfSpace {
            // The partial file goes first: the space named is what the blob still lacks.
            file.abandon()
            throw ImageServeError.outOfSpace(blobs, writing: "blob \(descriptor.digest)", size: descriptor.size)
        } catch {
            file.abandon()
            throw error
        }
        record(descriptor.digest, in: repository)
        return descriptor.size
    }

    // MARK: Blob holders

    private func knownHolders(of digest: Digest) -> Set<String> {
        holders.withLock { holders in
            if holders == nil { holders = scanHolders() }
            return holders?[digest] ?? []
        }
    }

    private func record(_ digest: Digest, in repository: String) {
        holders.withLock { holders in
            if holders == nil { holders = scanHolders() }
            holders?[digest, default: []].insert(repository)
        }
    }

    /// Which repositories hold which blobs, from one listing of each `blobs` directory. The
    /// temporary files of runs that are gone (by the PID in their names; a name without one,
    /// from an older imageprep, once a day old) are removed on the way.
    private func scanHolders() -> [Digest: Set<String>] {
        var found: [Digest: Set<String>] = [:]
        let stale = Date().addingTimeInterval(-24 * 3600).timeIntervalSince1970
        func walk(_ directory: URL, _ path: String) {
            for name in ImageServeFiles.names(in: directory, under: root) where !name.hasPrefix(".") {
                let child = directory.appendingPathComponent(name, isDirectory: false)
                if name == "blobs", !path.isEmpty {
                    guard let blobs = try? DirectoryHandle.open(child, under: root, create: false) else { continue }
                    for blob in blobs.names() {
                        if blob.hasPrefix(ImageServeFiles.temporaryPrefix) {
                            if let owner = RunTemporaries.owner(of: blob, prefix: ImageServeFiles.temporaryPrefix) {
                                if owner != getpid(), !RunTemporaries.isRunning(owner) { unlinkat(blobs.fd, blob, 0) }
                            } else {
                                var info = stat()
                                if fstatat(blobs.fd, blob, &info, AT_SYMLINK_NOFOLLOW) == 0, Double(info.st_mtim.tv_sec) < stale {
                                    unlinkat(blobs.fd, blob, 0)
                                }
                            }
                            continue
                        }
                        let digestText = blob.hasSuffix(".gz") ? String(blob.dropLast(3)) : blob
                        if let digest = try? Digest(digestText) { found[digest, default: []].insert(path) }
                    }
                } else if name != "manifests", name != "tags", ImageServeFiles.isDirectory(child) {
                    walk(child, path.isEmpty ? name : "\(path)/\(name)")
                }
            }
        }
        walk(v2, "")
        return found
    }
}
