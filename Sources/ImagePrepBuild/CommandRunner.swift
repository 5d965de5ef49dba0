import Foundation
import Subprocess
import SystemPackage

/// Runs a program to completion; output goes to a log file or is captured.
public struct CommandRunner: Sendable {
    public struct Failure: Error {
        /// The program and its subcommand, e.g. `buildah bud`.
        public var command: String
        public var status: String
        /// Standard error, or the tail of the log.
        public var output: String
    }

    static func describe(_ status: TerminationStatus) -> String {
        switch status {
        case .exited(let code): "exit status \(code)"
        default: "\(status)"
        }
    }

    /// Runs and returns standard output; standard error is kept for the
    /// failure.
    public static func capture(
        _ executable: String, _ arguments: [String], name: String? = nil, environment: [String: String] = [:]
    ) async throws -> String {
        let result = try await run(
            .name(executable), arguments: Arguments(arguments), environment: environmentValue(environment),
            output: .string(limit: 64 * 1024 * 1024), error: .string(limit: 1024 * 1024))
        guard case .exited(0) = result.terminationStatus else {
            throw Failure(command: name ?? executable, status: describe(result.terminationStatus), output: result.standardError)
        }
        return result.standardOutput
    }

    /// Runs with standard output and error appended to `log`.
    static func logged(
        _ executable: String, _ arguments: [String], name: String? = nil, log: URL, environment: [String: String] = [:]
    ) async throws {
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let fd = try FileDescriptor.open(FilePath(log.path), .writeOnly, options: [.append])
        let header = "$ \(([executable] + arguments).joined(separator: " "))\n"
        _ = try? fd.writeAll(Array(header.utf8))
        let result = try await run(
            program(executable), arguments: Arguments(arguments), environment: environmentValue(environment),
            output: .fileDescriptor(fd, closeAfterSpawningProcess: true), error: .combinedWithOutput)
        guard case .exited(0) = result.terminationStatus else {
            throw Failure(command: name ?? executable, status: describe(result.terminationStatus), output: tail(of: log))
        }
    }

    /// A path runs that file; a bare name is looked up in PATH.
    private static func program(_ executable: String) -> Executable {
        executable.contains("/") ? .path(FilePath(executable)) : .name(executable)
    }

    /// The last lines of a log, for error messages.
    static func tail(of log: URL, lines: Int = 15) -> String {
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return "" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1).joined(separator: "\n")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func environmentValue(_ values: [String: String]) -> Subprocess.Environment {
        values.isEmpty ? .inherit : .inherit.updating(Dictionary(uniqueKeysWithValues: values.map { (Subprocess.Environment.Key(rawValue: $0.key)!, Optional($0.value)) }))
    }
}
