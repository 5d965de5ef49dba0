import Foundation
import ImagePrepConcurrency
import ImagePrepFiles

#if canImport(Glibc)
import Glibc
import ImagePrepOCI
#endif


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
        do {
            try DurableFile.replace(
                name, in: directory.fd, directoryPath: directory.url.path, with: data,
                temporaryPrefix: temporaryPrefix, syncDirectory: syncDirectory)
        } catch {
            let operation = switch error.code {
            case .cannotCreate: "cannot create a file for \(name)"
            case .cannotWrite: "cannot write \(name)"
            case .cannotFlush: "cannot flush \(name) to disk"
            default: "cannot rename the new file into place"
            }
            throw ImageServeError(error, operation: operation)
        }
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
