import Foundation
import ImagePrepConcurrency

#if canImport(Glibc)
import Glibc
import ImagePrepOCI
#endif


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
