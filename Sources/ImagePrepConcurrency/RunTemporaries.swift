import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Temporary files and directories named for the run that owns them
/// (`<prefix><pid>-<random><suffix>`), so a later run removes those of runs that are gone
/// (killed, crashed, powered off) by their owner's PID, not by their age: one run never
/// removes a live run's temporaries, and a dead run's never outlive the next run.
public enum RunTemporaries {
    /// A new name for this run: `<prefix><pid>-<16 random hex digits><suffix>`.
    public static func name(prefix: String, suffix: String = ".tmp") -> String {
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return "\(prefix)\(getpid())-\(String(repeating: "0", count: 16 - random.count))\(random)\(suffix)"
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
