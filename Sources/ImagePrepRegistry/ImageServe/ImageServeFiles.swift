import Foundation

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

    /// `directory` has no room for `what`, `size` bytes: names the space to free.
    static func outOfSpace(_ directory: URL, writing what: String, size: Int64) -> ImageServeError {
        let free = ImageServeFiles.freeSpace(directory.path) ?? 0
        let missing = max(1, size - free)
        var error = ImageServeError(
            path: directory.path,
            message: "no space left on the device: \(what) needs \(size) bytes, \(free) bytes are free; "
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

    static func temporaryName(in directory: URL) -> URL {
        directory.appendingPathComponent("\(temporaryPrefix)\(UUID().uuidString.lowercased()).tmp")
    }

    /// Creates `directory` and its missing parents, each 0755.
    static func makeDirectory(_ directory: URL) throws(ImageServeError) {
        var missing: [URL] = []
        var current = directory
        while !exists(current.path) {
            missing.append(current)
            let parent = current.deletingLastPathComponent()
            if parent.path == current.path { break }
            current = parent
        }
        for path in missing.reversed() {
            if mkdir(path.path, 0o755) != 0, Glibc.errno != EEXIST {
                throw .errno(path.path, "cannot create the directory")
            }
            chmod(path.path, 0o755)
        }
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

    static func read(_ url: URL, limit: Int = 16 * 1024 * 1024) -> Data? {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return nil }
        defer { try? handle.close() }
        return try? handle.read(upToCount: limit)
    }

    /// Writes `data` to `url` through a temporary file and a rename; nothing when the file
    /// already holds exactly these bytes. Returns whether it wrote.
    @discardableResult
    static func writeIfChanged(_ data: Data, to url: URL) throws(ImageServeError) -> Bool {
        if read(url) == data { return false }
        let directory = url.deletingLastPathComponent()
        let temporary = temporaryName(in: directory)
        let file = try BlobFile(creating: temporary, for: url.lastPathComponent)
        do {
            try file.write(data)
            try file.finish()
        } catch {
            file.abandon()
            throw error
        }
        if rename(temporary.path, url.path) != 0 {
            let error = ImageServeError.errno(url.path, "cannot rename \(temporary.lastPathComponent) into place")
            unlink(temporary.path)
            throw error
        }
        syncDirectory(directory)
        return true
    }

    /// Makes renames and links in `directory` durable.
    static func syncDirectory(_ directory: URL) {
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// Hard-links `existing` as `name`: true when linked or when `name` already exists.
    static func link(_ existing: URL, as name: URL) throws(ImageServeError) -> Bool {
        if Glibc.link(existing.path, name.path) == 0 {
            syncDirectory(name.deletingLastPathComponent())
            return true
        }
        switch Glibc.errno {
        case EEXIST: return true
        case ENOENT: return false
        default: throw .errno(name.path, "cannot link \(existing.path)")
        }
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

    /// Names in `directory` (empty when it does not exist).
    static func names(in directory: URL) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    }

    static func isDirectory(_ url: URL) -> Bool {
        var info = stat()
        return stat(url.path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func inode(_ url: URL) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }
}

/// A file being written under a temporary name: bytes are hashed and counted as they go;
/// `finish` flushes them to disk.
final class BlobFile: @unchecked Sendable {
    // One writer at a time (the transfer thread of one request, or the caller).
    let url: URL
    /// The name the file is written for, for errors (never the temporary's).
    let finalName: String
    private let fd: Int32
    private var hasher = DigestHasher()
    private(set) var count: Int64 = 0
    private var closed = false

    init(creating url: URL, for finalName: String) throws(ImageServeError) {
        self.url = url
        self.finalName = finalName
        fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .errno(url.deletingLastPathComponent().path, "cannot create a file for \(finalName)") }
        fchmod(fd, 0o644)
    }

    deinit {
        if !closed { close(fd) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(ImageServeError) {
        hasher.update(bytes)
        count += Int64(bytes.count)
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress!.advanced(by: offset), bytes.count - offset)
            if written < 0 {
                if Glibc.errno == EINTR { continue }
                throw .errno(url.deletingLastPathComponent().path, "cannot write \(finalName)")
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

    var digest: Digest { hasher.finalize() }

    /// Flushes and closes the file; with `recording`, records the verified digest on it
    /// (see ``ImageServeFiles/digestAttribute``).
    func finish(recording digest: Digest? = nil) throws(ImageServeError) {
        guard !closed else { return }
        closed = true
        let synced = fsync(fd) == 0
        if synced, let digest { ImageServeFiles.recordDigest(digest, on: fd) }
        let closedOK = close(fd) == 0
        guard synced, closedOK else { throw .errno(url.deletingLastPathComponent().path, "cannot flush \(finalName) to disk") }
    }

    /// Closes and removes the file.
    func abandon() {
        if !closed {
            closed = true
            close(fd)
        }
        unlink(url.path)
    }
}

/// An advisory lock (`flock`) on a file, held until `release` or deinit.
final class DirectoryLock: Sendable {
    private let fd: Int32

    init(_ url: URL, exclusive: Bool) throws(ImageServeError) {
        fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .errno(url.path, "cannot open the lock file") }
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
