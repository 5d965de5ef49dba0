import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writing files that a crash or a reader never sees half-written: the bytes go to a new
/// temporary file of this run beside the target (`O_EXCL|O_NOFOLLOW`, its mode set whatever
/// the umask), every byte is written (short writes and `EINTR` retried), the file is flushed,
/// renamed over the target and the directory flushed. After a crash the target is the old
/// file or the new one; a link at the target is replaced, never written through.
public enum DurableFile {
    /// Whether a write is flushed to disk before it is renamed into place (and the rename
    /// after it). A cache whose entries are verified when read does without.
    public enum Durability: Sendable {
        case flushed
        case unflushed
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and `EINTR`.
    public static func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32, path: String) throws(FileError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress!.advanced(by: offset), bytes.count - offset)
            if written < 0 {
                let number = errno
                if number == EINTR { continue }
                throw FileError(.cannotWrite, path: path, number: number)
            }
            guard written > 0 else { throw FileError(.cannotWrite, path: path, number: EIO) }
            offset += written
        }
    }

    public static func writeAll(_ data: Data, to fd: Int32, path: String) throws(FileError) {
        let failure: FileError? = data.withUnsafeBytes { bytes in
            guard bytes.count > 0 else { return nil }
            do throws(FileError) {
                try writeAll(bytes, to: fd, path: path)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// Replaces `name` in the directory open as `directory` (its path `directoryPath`, for
    /// errors and signal clean-up) with `data`. The temporary is named `temporaryPrefix`, the
    /// run's PID and a random part, and is removed if a signal ends the run meanwhile.
    /// `syncDirectory` false leaves the rename to the caller's next flush of the directory.
    public static func replace(
        _ name: String, in directory: Int32, directoryPath: String, with data: Data, mode: mode_t = 0o644,
        temporaryPrefix: String, durability: Durability = .flushed, syncDirectory: Bool = true
    ) throws(FileError) {
        let (temporary, fd) = try createTemporary(in: directory, directoryPath: directoryPath, prefix: temporaryPrefix, mode: mode)
        let temporaryPath = directoryPath + "/" + temporary
        defer { RunTemporaries.untrack(temporaryPath) }
        do throws(FileError) {
            defer { close(fd) }
            try writeAll(data, to: fd, path: temporaryPath)
            if durability == .flushed, fsync(fd) != 0 {
                throw FileError(.cannotFlush, path: directoryPath + "/" + name, number: errno)
            }
        } catch {
            unlinkat(directory, temporary, 0)
            throw error
        }
        guard renameat(directory, temporary, directory, name) == 0 else {
            let number = errno
            unlinkat(directory, temporary, 0)
            throw FileError(.cannotRename, path: directoryPath + "/" + name, number: number)
        }
        if syncDirectory, durability == .flushed { fsync(directory) }
    }

    /// Replaces the file at `path` with `data` (see the directory form); the directory must
    /// exist.
    public static func replace(
        atPath path: String, with data: Data, mode: mode_t = 0o644, temporaryPrefix: String,
        durability: Durability = .flushed
    ) throws(FileError) {
        let url = URL(fileURLWithPath: path)
        let directoryPath = url.deletingLastPathComponent().path
        let directory = open(directoryPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw FileError(.cannotCreate, path: directoryPath, number: errno) }
        defer { close(directory) }
        try replace(
            url.lastPathComponent, in: directory, directoryPath: directoryPath, with: data, mode: mode,
            temporaryPrefix: temporaryPrefix, durability: durability)
    }

    /// Creates the new file `path` with `mode` (never readable by others beyond it, not even
    /// for a moment) holding `data`; fails if anything is already there.
    public static func createNew(atPath path: String, with data: Data, mode: mode_t) throws(FileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileError(.cannotCreate, path: path, number: errno) }
        defer { close(fd) }
        fchmod(fd, mode)
        try writeAll(data, to: fd, path: path)
    }

    /// Flushes the directory at `path` (renames and links in it become durable).
    public static func syncDirectory(atPath path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    private static func createTemporary(
        in directory: Int32, directoryPath: String, prefix: String, mode: mode_t
    ) throws(FileError) -> (String, Int32) {
        for _ in 0..<16 {
            let name = RunTemporaries.name(prefix: prefix)
            let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            if fd >= 0 {
                fchmod(fd, mode)
                RunTemporaries.track(directoryPath + "/" + name)
                return (name, fd)
            }
            guard errno == EEXIST else { break }
        }
        throw FileError(.cannotCreate, path: directoryPath, number: errno)
    }
}
