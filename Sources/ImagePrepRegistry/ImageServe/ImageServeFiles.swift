import Foundation
import ImagePrepConcurrency

#if canImport(Glibc)
import Glibc
import ImagePrepOCI
#endif

/// Something went wrong reading or writing an image-serve directory.
public struct ImageServeError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    /// The file system is full (ENOSPC, EDQUOT).
    public var isOutOfSpace = false

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "image-serve directory: \(path): \(message)" }

    static func errno(_ path: String, _ operation: String) -> ImageServeError {
        let code = Glibc.errno
        var error = ImageServeError(path: path, message: "\(operation): \(String(cString: strerror(code)))")
        error.isOutOfSpace = code == ENOSPC || code == EDQUOT
        if error.isOutOfSpace, let free = ImageServeFiles.freeSpace(path) {
            error.message += " (\(free) bytes free)"
        }
        return error
    }

    /// A symbolic link where a directory or file of imageprep's should be.
    static func link(_ path: String) -> ImageServeError {
        ImageServeError(
            path: path,
            message: "is a symbolic link where imageprep keeps a directory or file of its own; "
                + "nothing under the image-serve directory is reached through a link: remove it")
    }

    /// `directory` has no room for `what`, `size` bytes: names the space to free.
    static func outOfSpace(_ directory: URL, writing what: String, size: Int64, plural: Bool = false) -> ImageServeError {
        let free = ImageServeFiles.freeSpace(directory.path) ?? 0
        let missing = max(1, size.subtractingReportingOverflow(free).partialValue)
        var error = ImageServeError(
            path: directory.path,
            message: "no space left on the device: \(what) \(plural ? "need" : "needs") \(size) bytes, \(free) bytes are free; "
                + "free at least \(missing) bytes there and run again")
        error.isOutOfSpace = true
        return error
    }
}

/// The file operations image-serve writes are made of: every file is written under a
/// temporary name, flushed to disk and then renamed (or linked) into place, so a reader
/// (httpd) or a crash never sees a half-written file. Files are 0644 and directories 0755
/// whatever the umask: httpd reads them as another user.
enum ImageServeFiles {
    static let temporaryPrefix = ".imageprep-"

    /// Creates `directory` and its missing parents below `root`, each 0755. A symbolic link
    /// (or a file) where one of them should be is refused, naming it: nothing under the
    /// image-serve directory is reached through a link.
    static func makeDirectory(_ directory: URL, under root: URL) throws(ImageServeError) {
        _ = try DirectoryHandle.open(directory, under: root, create: true)
    }

    /// The path components of `url` below `root`.
    static func components(of url: URL, under root: URL) throws(ImageServeError) -> [Substring] {
        let path = url.standardizedFileURL.path
        guard path == root.path || path.hasPrefix(root.path + "/") else {
            throw ImageServeError(path: path, message: "is not under the image-serve directory \(root.path)")
        }
        return path.dropFirst(root.path.count).split(separator: "/")
    }

    /// Throws when a directory leading to `url` (below `root`) is a symbolic link.
    static func refuseLinks(above url: URL, under root: URL) throws(ImageServeError) {
        _ = try DirectoryHandle.open(url.deletingLastPathComponent(), under: root, create: false)
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// The attribute on a blob file recording the digest imageprep verified it has, after
    /// flushing it to disk.
    static let digestAttribute = "user.imageprep.digest"

    // glibc's fgetxattr/fsetxattr (sys/xattr.h is not part of the Glibc module).
    private typealias GetAttribute = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    private typealias SetAttribute = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32
    private static let attributeCalls: (get: GetAttribute, set: SetAttribute)? = {
        guard let process = dlopen(nil, RTLD_NOW), let get = dlsym(process, "fgetxattr"), let set = dlsym(process, "fsetxattr")
        else { return nil }
        return (unsafeBitCast(get, to: GetAttribute.self), unsafeBitCast(set, to: SetAttribute.self))
    }()

    static func recordedDigest(_ fd: Int32) -> Digest? {
        guard let calls = attributeCalls else { return nil }
        var buffer = [UInt8](repeating: 0, count: 160)
        let count = buffer.withUnsafeMutableBytes { calls.get(fd, digestAttribute, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return try? Digest(String(decoding: buffer[..<count], as: UTF8.self))
    }

    /// Records `digest` on the file (nothing where the file system keeps no user attributes:
    /// the file is then read again by the next run).
    static func recordDigest(_ digest: Digest, on fd: Int32) {
        guard let calls = attributeCalls else { return }
        let value = Array(digest.description.utf8)
        _ = value.withUnsafeBytes { calls.set(fd, digestAttribute, $0.baseAddress, $0.count, 0) }
    }

    /// The digest of the whole file open as `fd`, read from its start.
    static func digest(of fd: Int32, algorithm: String) -> Digest? {
        var hasher = DigestHasher(algorithm: algorithm)
        var buffer = [UInt8](repeating: 0, count: 1024 * 1024)
        var offset: off_t = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if count < 0, Glibc.errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return hasher.finalize() }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            offset += off_t(count)
        }
    }

    /// The file's first `limit` bytes; nil when it is missing, no regular file, or reached
    /// through a symbolic link below `root`.
    static func read(_ url: URL, under root: URL, limit: Int = 16 * 1024 * 1024) -> Data? {
        guard let directory = try? DirectoryHandle.open(url.deletingLastPathComponent(), under: root, create: false) else {
            return nil
        }
        return directory.read(url.lastPathComponent, limit: limit)
    }

    /// Writes `data` to `url` through a temporary file and a rename; nothing when the file
    /// already holds exactly these bytes. Returns whether it wrote. `syncDirectory` false
    /// leaves the rename to be flushed by the caller's next flush of the same directory.
    @discardableResult
    static func writeIfChanged(_ data: Data, to url: URL, under root: URL, syncDirectory: Bool = true) throws(ImageServeError) -> Bool {
        guard let directory = try DirectoryHandle.open(url.deletingLastPathComponent(), under: root, create: true) else {
            return false
        }
        let name = url.lastPathComponent
        // A link there is replaced by the rename, never written through.
        if directory.read(name, limit: data.count + 1) == data { return false }
        let file = try BlobFile(in: directory, for: name, hashing: false)
        do {
            try file.write(data)
            try file.finish()
        } catch {
            file.abandon()
            throw error
        }
        if renameat(directory.fd, file.name, directory.fd, name) != 0 {
            let error = ImageServeError.errno(url.path, "cannot rename the new file into place")
            file.abandon()
            throw error
        }
        if syncDirectory { directory.sync() }
        return true
    }

    /// The bytes an unprivileged writer may still put on the file system holding `path` (or
    /// its nearest existing parent).
    static func freeSpace(_ path: String) -> Int64? {
        var current = path
        var info = statvfs()
        while statvfs(current, &info) != 0 {
            let parent = (current as NSString).deletingLastPathComponent
            guard !parent.isEmpty, parent != current else { return nil }
            current = parent
        }
        let (free, overflow) = UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize))
        return overflow || free > UInt64(Int64.max) ? Int64.max : Int64(free)
    }

    /// Names in `directory` (empty when it does not exist or is reached through a link below
    /// `root`).
    static func names(in directory: URL, under root: URL) -> [String] {
        (try? DirectoryHandle.open(directory, under: root, create: false))??.names() ?? []
    }

    /// Whether `url` is a directory itself, not a link to one: walks never follow links.
    static func isDirectory(_ url: URL) -> Bool {
        var info = stat()
        return lstat(url.path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func inode(_ url: URL) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }
}

/// A directory under the image-serve root, opened by walking down from the root with
/// `O_NOFOLLOW` at every step; what is done through it (`openat`, `linkat`, `renameat`,
/// `unlinkat`) stays in that directory even if a link is planted on the way meanwhile.
final class DirectoryHandle: @unchecked Sendable {
    // The descriptor is only read after init; closed once, in deinit.
    let url: URL
    let fd: Int32

    private init(url: URL, fd: Int32) {
        self.url = url
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    /// Opens `directory` below `root` (the root itself may be a link), creating what is
    /// missing (0755) when `create`; nil when it is missing and not to be created. A link or
    /// a file where a directory should be is refused, naming it.
    static func open(_ directory: URL, under root: URL, create: Bool) throws(ImageServeError) -> DirectoryHandle? {
        let parts = try ImageServeFiles.components(of: directory, under: root)
        var fd = Glibc.open(root.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .errno(root.path, "cannot open the directory") }
        var current = root.path
        for part in parts {
            current += "/" + part
            let name = String(part)
            var child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if child < 0, Glibc.errno == ENOENT, create {
                if mkdirat(fd, name, 0o755) == 0 {
                    child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    if child >= 0 { fchmod(child, 0o755) }  // whatever the umask
                } else if Glibc.errno == EEXIST {
                    child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                } else {
                    let error = ImageServeError.errno(current, "cannot create the directory")
                    close(fd)
                    throw error
                }
            }
            guard child >= 0 else {
                let code = Glibc.errno
                var info = stat()
                let kind = fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 ? info.st_mode & S_IFMT : 0
                close(fd)
                if kind == S_IFLNK { throw .link(current) }
                if kind != 0, kind != S_IFDIR {
                    throw ImageServeError(path: current, message: "is not a directory, where imageprep keeps one")
                }
                if code == ENOENT, !create { return nil }
                Glibc.errno = code
                throw .errno(current, "cannot open the directory")
            }
            close(fd)
            fd = child
        }
        return DirectoryHandle(url: directory.standardizedFileURL, fd: fd)
    }

    /// What `name` is, not following a link (`S_IFREG`, `S_IFLNK`...); nil when missing.
    func kind(_ name: String) -> mode_t? {
        var info = stat()
        return fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 ? info.st_mode & S_IFMT : nil
    }

    /// Opens `name` for reading, never through a link; -1 when it cannot.
    func openFile(_ name: String) -> Int32 {
        openat(fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
    }

    /// The first `limit` bytes of the regular file `name`; nil when missing, no regular file
    /// or a link.
    func read(_ name: String, limit: Int) -> Data? {
        let file = openFile(name)
        guard file >= 0 else { return nil }
        defer { close(file) }
        var info = stat()
        guard fstat(file, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while data.count < limit {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(file, $0.baseAddress, min($0.count, limit - data.count)) }
            if count < 0, Glibc.errno == EINTR { continue }
            guard count > 0 else { break }
            data.append(contentsOf: buffer[..<count])
        }
        return data
    }

    /// The directory's entries (this directory, wherever a link on the way points now).
    func names() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd/\(fd)")) ?? []
    }

    /// Removes `name`: a file or link with `unlinkat`, a directory with its contents, never
    /// following a link. False when something could not be removed.
    @discardableResult
    func remove(_ name: String) -> Bool {
        guard let kind = kind(name) else { return true }
        guard kind == S_IFDIR else { return unlinkat(fd, name, 0) == 0 }
        let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard child >= 0 else { return false }
        let handle = DirectoryHandle(url: url.appendingPathComponent(name), fd: child)
        var removed = true
        for entry in handle.names() where !handle.remove(entry) { removed = false }
        return removed && unlinkat(fd, name, AT_REMOVEDIR) == 0
    }

    /// Makes renames and links in the directory durable.
    func sync() {
        fsync(fd)
    }
}

/// A file being written under a temporary name: bytes are hashed and counted as they go;
/// `finish` flushes them to disk.
final class BlobFile: @unchecked Sendable {
    // One writer at a time (the transfer thread of one request, or the caller).
    /// The directory it is written in, and its temporary name there.
    let directory: DirectoryHandle
    let name: String
    var url: URL { directory.url.appendingPathComponent(name) }
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
        RunTemporaries.track(directory.url.appendingPathComponent(name).path)
    }

    deinit {
        if !closed { close(fd) }
        RunTemporaries.untrack(url.path)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(ImageServeError) {
        hasher?.update(bytes)
        count += Int64(bytes.count)
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress!.advanced(by: offset), bytes.count - offset)
            if written < 0 {
                if Glibc.errno == EINTR { continue }
                throw .errno(directory.url.path, "cannot write \(finalName)")
            }
            offset += written
        }
    }

    func write(_ data: Data) throws(ImageServeError) {
        let failure: ImageServeError? = data.withUnsafeBytes { bytes in
            guard bytes.count > 0 else { return nil }
            do throws(ImageServeError) {
                try write(bytes)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
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

/// An advisory lock (`flock`) on a file, held until `release` or deinit.
final class DirectoryLock: Sendable {
    private let fd: Int32

    init(_ url: URL, exclusive: Bool) throws(ImageServeError) {
        // Never through a link (ELOOP), never blocking on a planted FIFO, and only a file.
        let fd = open(url.path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            if Glibc.errno == ELOOP { throw .link(url.path) }
            throw .errno(url.path, "cannot open the lock file")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ImageServeError(path: url.path, message: "is not a regular file, where imageprep keeps its lock: remove it")
        }
        self.fd = fd
        fchmod(fd, 0o644)
        while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            guard Glibc.errno == EINTR else {
                close(fd)
                throw .errno(url.path, "cannot lock")
            }
        }
    }

    deinit {
        close(fd)
    }
}
