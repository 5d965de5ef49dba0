import Foundation
import ImagePrepConcurrency
import ImagePrepFiles

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
    /// place and flushes the directory (``DurableFile``): after a crash the file is the old
    /// one or the new one. Temporaries of runs that are gone are removed first.
    static func writeAtomically(_ text: String, to path: String) throws(PrepareError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PrepareError.unwritable(path: path, reason: "directory \(directory) does not exist")
        }
        let prefix = temporaryPrefix(for: url)
        RunTemporaries.removeDead(in: directory, prefix: prefix)
        do {
            try DurableFile.replace(atPath: path, with: Data(text.utf8), temporaryPrefix: prefix)
        } catch {
            let reason = error.code == .cannotCreate ? "cannot create a file in \(directory): \(error.reason)" : error.reason
            throw PrepareError.unwritable(path: path, reason: reason)
        }
    }

    /// The prefix of the temporary files written beside an output, before the writing run's
    /// PID: `.NAME.imageprep-PID-RANDOM.tmp`.
    static func temporaryPrefix(for url: URL) -> String { ".\(url.lastPathComponent).imageprep-" }

    /// Takes an exclusive lock for each output file (on `.NAME.lock` beside it) for as long
    /// as the returned value lives: a second run writing the same file fails at once, naming
    /// it, instead of interleaving with the first.
    static func lockOutputs(_ paths: [String]) throws(PrepareError) -> OutputLocks {
        var locks: [FileLock] = []
        for path in Set(paths.map { URL(fileURLWithPath: $0).standardizedFileURL.path }).sorted() {
            let url = URL(fileURLWithPath: path)
            let directory = url.deletingLastPathComponent().path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw PrepareError.unwritable(path: path, reason: "directory \(directory) does not exist")
            }
            let lockPath = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).lock").path
            do {
                locks.append(try FileLock(path: lockPath, exclusive: true, waits: false))
            } catch {
                let reason = switch error.code {
                case .link: "the lock \(lockPath) is a symbolic link; remove it"
                case .notRegularFile: "the lock \(lockPath) is not a regular file; remove it"
                case .lockHeld: "another imageprep run is writing it (lock \(lockPath) is held)"
                case .cannotOpen: "cannot create the lock file: \(error.reason)"
                default: "cannot lock \(lockPath): \(error.reason)"
                }
                throw PrepareError.unwritable(path: path, reason: reason)
            }
        }
        return OutputLocks(locks: locks)
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
struct OutputLocks: Sendable {
    let locks: [FileLock]
}
