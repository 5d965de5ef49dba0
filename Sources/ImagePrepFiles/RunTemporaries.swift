import Foundation
import ImagePrepConcurrency

#if canImport(Glibc)
import Glibc
#endif

/// Temporary files and directories named for the run that owns them
/// (`<prefix><pid>-<random><suffix>`), so a later run removes those of runs that are gone
/// (killed, crashed, powered off) by their owner's PID, not by their age: one run never
/// removes a live run's temporaries, and a dead run's never outlive the next run. What a
/// run tracks is removed when SIGTERM, SIGINT or SIGHUP ends it (``removeOnSignals()``).
public enum RunTemporaries {
    private struct Tracked {
        /// Files and directories to remove.
        var paths: Set<String> = []
        /// Directories and name prefixes whose entries named for this run are removed.
        var owned: Set<[String]> = []
    }

    private static let tracked = Locked(Tracked())
    private static let handlers = Locked<[any DispatchSourceSignal]>([])

    /// Removes `path` if a signal ends the run before ``untrack(_:)``.
    public static func track(_ path: String) {
        tracked.withLock { _ = $0.paths.insert(path) }
    }

    public static func untrack(_ path: String) {
        tracked.withLock { _ = $0.paths.remove(path) }
    }

    /// Removes the entries of `directory` named `<prefix><this run's pid>-…` if a signal ends
    /// the run (for directories another module names, such as buildah's build directories).
    public static func trackOwned(in directory: String, prefix: String) {
        tracked.withLock { _ = $0.owned.insert([directory, prefix]) }
    }

    /// From now on SIGTERM, SIGINT and SIGHUP remove what is tracked, then end the process
    /// by the same signal (its exit status says so). A signal ignored when the run starts
    /// (SIGHUP under `nohup`) stays ignored. Called once, by the command line.
    public static func removeOnSignals() {
        handlers.withLock { handlers in
            guard handlers.isEmpty else { return }
            for number in [SIGTERM, SIGINT, SIGHUP] {
                let previous = signal(number, SIG_IGN)
                if address(previous) == address(SIG_IGN) { continue }
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler {
                    removeTracked()
                    signal(number, SIG_DFL)
                    kill(getpid(), number)
                }
                source.resume()
                handlers.append(source)
            }
        }
    }

    private static func address(_ handler: __sighandler_t?) -> UInt {
        handler.map { unsafeBitCast($0, to: UInt.self) } ?? 0
    }

    /// Removes what is tracked now.
    public static func removeTracked() {
        let (paths, owned) = tracked.withLock { ($0.paths, $0.owned) }
        for path in paths { remove(path) }
        let pid = getpid()
        for entry in owned {
            let (directory, prefix) = (entry[0], entry[1])
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            where owner(of: name, prefix: prefix) == pid {
                remove(directory + "/" + name)
            }
        }
    }

    /// A new name for this run: `<prefix><pid>-<16 random hex digits><suffix>`.
    public static func name(prefix: String, suffix: String = ".tmp") -> String {
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return "\(prefix)\(getpid())-\(String(repeating: "0", count: 16 - random.count))\(random)\(suffix)"
    }

    /// A new path `<directory>/<prefix><pid>-<random><suffix>` for this run, tracked for
    /// removal on a signal; the entries dead runs left there under `prefix` are removed first.
    /// ``release(_:)`` removes it and stops tracking it.
    public static func newPath(in directory: String, prefix: String, suffix: String = "") -> String {
        removeDead(in: directory, prefix: prefix)
        let path = directory + "/" + name(prefix: prefix, suffix: suffix)
        track(path)
        return path
    }

    /// Removes `path` (never following a link) and stops tracking it.
    public static func release(_ path: String) {
        remove(path)
        untrack(path)
    }

    /// The PID in a name made by ``name(prefix:suffix:)``; nil for any other name.
    public static func owner(of name: String, prefix: String) -> pid_t? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0 else { return nil }
        return pid
    }

    /// Whether a process with this PID exists (EPERM: it exists, as another user).
    public static func isRunning(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Removes the entries of `directory` named with `prefix` whose owner is gone. A
    /// directory is removed with its contents; a link is removed, never followed.
    public static func removeDead(in directory: String, prefix: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names {
            guard let pid = owner(of: name, prefix: prefix), pid != getpid(), !isRunning(pid) else { continue }
            remove(directory + "/" + name)
        }
    }

    /// Removes `path`: a file or link with `unlink`, a directory with its contents, never
    /// following a link.
    public static func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { remove(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
