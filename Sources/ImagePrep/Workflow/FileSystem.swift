import Foundation
import ImagePrepConcurrency

/// Reading input files and writing output files whole: an output is written
/// to a temporary file beside it and renamed into place, so a failed run
/// leaves the old file as it was.
enum FileSystem {
    static func readText(_ path: String) throws(PrepareError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PrepareError.unreadable(path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw PrepareError.unreadable(path: path, reason: "is a directory, expected a file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PrepareError.unreadable(path: path, reason: "permission denied or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PrepareError.unreadable(path: path, reason: "not UTF-8 text")
        }
        return text
    }

    /// Writes `text` to a temporary file beside `path`, flushes it to disk, renames it into
    /// place and flushes the directory: after a crash the file is the old one or the new one.
    /// The temporary is created with a random name, `O_EXCL` and `O_NOFOLLOW`, so a link or
    /// file planted beside the output is never written through; the rename replaces a link at
    /// `path` itself, never its target.
    static func writeAtomically(_ text: String, to path: String) throws(PrepareError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PrepareError.unwritable(path: path, reason: "directory \(directory) does not exist")
        }
        let (temporary, descriptor) = try createTemporary(beside: url)
        defer { RunTemporaries.untrack(temporary) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            written += count
        }
        let complete = written == bytes.count && fsync(descriptor) == 0
        let reason = String(cString: strerror(errno))
        close(descriptor)
        guard complete, rename(temporary, path) == 0 else {
            let failure = complete ? String(cString: strerror(errno)) : reason
            unlink(temporary)
            throw PrepareError.unwritable(path: path, reason: failure)
        }
        syncDirectory(directory)
    }

    /// The prefix of the temporary files written beside an output, before the writing run's
    /// PID: `.NAME.imageprep-PID-RANDOM.tmp`.
    static func temporaryPrefix(for url: URL) -> String { ".\(url.lastPathComponent).imageprep-" }

    /// Creates a new temporary file beside `url` (`O_CREAT|O_EXCL|O_NOFOLLOW`, a random name
    /// holding the run's PID), removing first the temporaries of runs that are gone.
    private static func createTemporary(beside url: URL) throws(PrepareError) -> (String, Int32) {
        let directory = url.deletingLastPathComponent().path
        let prefix = temporaryPrefix(for: url)
        RunTemporaries.removeDead(in: directory, prefix: prefix)
        for _ in 0..<16 {
            let temporary = directory + "/" + RunTemporaries.name(prefix: prefix)
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if descriptor >= 0 {
                RunTemporaries.track(temporary)
                return (temporary, descriptor)
            }
            guard errno == EEXIST else { break }
        }
        throw PrepareError.unwritable(
            path: url.path, reason: "cannot create a file in \(directory): \(String(cString: strerror(errno)))")
    }

    private static func syncDirectory(_ directory: String) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    /// Takes an exclusive lock for each output file (on `.NAME.lock` beside it) for as long
    /// as the returned value lives: a second run writing the same file fails at once, naming
    /// it, instead of interleaving with the first.
    static func lockOutputs(_ paths: [String]) throws(PrepareError) -> OutputLocks {
        let locks = OutputLocks()
        for path in Set(paths.map { URL(fileURLWithPath: $0).standardizedFileURL.path }).sorted() {
            let url = URL(fileURLWithPath: path)
            let directory = url.deletingLastPathComponent().path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw PrepareError.unwritable(path: path, reason: "directory \(directory) does not exist")
            }
            let lockPath = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).lock").path
            // Never through a link (ELOOP), never blocking on a planted FIFO, and only a file.
            let descriptor = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                let reason = errno == ELOOP
                    ? "the lock \(lockPath) is a symbolic link; remove it"
                    : "cannot create the lock file: \(String(cString: strerror(errno)))"
                throw PrepareError.unwritable(path: path, reason: reason)
            }
            var info = stat()
            guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                close(descriptor)
                throw PrepareError.unwritable(path: path, reason: "the lock \(lockPath) is not a regular file; remove it")
            }
            guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                close(descriptor)
                throw PrepareError.unwritable(path: path, reason: "another imageprep run is writing it (lock \(lockPath) is held)")
            }
            locks.descriptors.append(descriptor)
        }
        return locks
    }

    /// The YAML files of an environment directory, sorted by name.
    static func environmentFiles(in directory: String) throws(PrepareError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PrepareError.unreadable(path: directory, reason: "no such directory")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw PrepareError.unreadable(path: directory, reason: "cannot list the directory")
        }
        // tripleoclient reads `*.yaml` only, in ascending order.
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { directory + "/" + $0 }
    }
}

/// Output file locks, released when the value is dropped.
final class OutputLocks {
    fileprivate var descriptors: [Int32] = []

    deinit {
        for descriptor in descriptors { close(descriptor) }
    }
}
