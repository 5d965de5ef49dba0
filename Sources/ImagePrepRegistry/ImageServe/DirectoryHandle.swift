import Foundation
import ImagePrepConcurrency

#if canImport(Glibc)
import Glibc
import ImagePrepOCI
#endif


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
        let handle = DirectoryHandle(url: url.appendingPathComponent(name, isDirectory: false), fd: child)
        var removed = true
        for entry in handle.names() where !handle.remove(entry) { removed = false }
        return removed && unlinkat(fd, name, AT_REMOVEDIR) == 0
    }

    /// Makes renames and links in the directory durable.
    func sync() {
        fsync(fd)
    }
}
