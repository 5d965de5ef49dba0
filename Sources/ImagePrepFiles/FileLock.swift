#if canImport(Glibc)
import Glibc
#endif

/// An advisory lock (`flock`) on a lock file, held for as long as the value lives. The lock
/// file is created 0644 if missing, never through a symbolic link, never blocking on a FIFO
/// planted in its place, and only as a regular file.
public final class FileLock: Sendable {
    private let fd: Int32

    /// Takes the lock on `path`: exclusive or shared; `waits` false fails with
    /// ``FileError/Code/lockHeld`` instead of waiting for another holder.
    public init(path: String, exclusive: Bool, waits: Bool) throws(FileError) {
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let number = errno
            throw FileError(number == ELOOP ? .link : .cannotOpen, path: path, number: number)
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw FileError(.notRegularFile, path: path, number: 0)
        }
        fchmod(fd, 0o644)
        let operation = (exclusive ? LOCK_EX : LOCK_SH) | (waits ? 0 : LOCK_NB)
        while flock(fd, operation) != 0 {
            let number = errno
            guard number == EINTR else {
                close(fd)
                throw FileError(number == EWOULDBLOCK ? .lockHeld : .cannotLock, path: path, number: number)
            }
        }
        self.fd = fd
    }

    deinit {
        close(fd)
    }
}
