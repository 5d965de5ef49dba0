import Foundation
import Synchronization
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `imageprep` binary.
public struct CLI {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    public static func fixture(_ name: String) -> String {
        packageRoot.appendingPathComponent("Tests/Fixtures/\(name)").path
    }

    /// The `imageprep` the tests run: `$IMAGEPREP_BINARY` when set (an installed release
    /// build, as `scripts/test-installed` runs them), else the debug build beside the tests.
    public static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["IMAGEPREP_BINARY"], !path.isEmpty {
            precondition(FileManager.default.isExecutableFile(atPath: path), "IMAGEPREP_BINARY=\(path) is no executable")
            return URL(fileURLWithPath: path)
        }
        // The test bundle sits in the build products folder beside the binary.
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            let candidate = bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("imageprep")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return packageRoot.appendingPathComponent(".build/debug/imageprep")
    }

    /// Whether the binary under test is an installed one (`IMAGEPREP_BINARY`): it then runs
    /// as an operator's would, with `env -i PATH=/usr/bin:/bin` and only the variables a
    /// test gives it, and a test of the tree's own files skips.
    public static var testsInstalledBinary: Bool {
        !(ProcessInfo.processInfo.environment["IMAGEPREP_BINARY"] ?? "").isEmpty
    }

    /// The environment `imageprep` runs with: the test's `environment` over the tests' own,
    /// or over `PATH=/usr/bin:/bin` alone for an installed binary.
    public static func binaryEnvironment(_ environment: [String: String] = [:]) -> [String: String] {
        guard testsInstalledBinary else { return ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        return ["PATH": "/usr/bin:/bin"].merging(environment) { _, new in new }
    }

    /// Runs `imageprep`. A run that a signal ended fails the test, naming the command: no
    /// input may crash it.
    @discardableResult
    /// `wrapper` runs it under another program (`unshare ... sh -c ... sh`): the wrapper's
    /// words come first, then the binary's path and `arguments`.
    public static func run(
        _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:], wrapper: [String] = [],
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> Output {
        let watched = try wrapper.first.map { first in
            try launch(
                URL(fileURLWithPath: first), Array(wrapper.dropFirst()) + [binary.path] + arguments, in: directory,
                environment: binaryEnvironment(environment), timeout: nil)
        } ?? launch(binary, arguments, in: directory, environment: binaryEnvironment(environment), timeout: nil)
        failOnSignal(watched, arguments, file: file, line: line)
        return watched.output
    }

    /// `imageprep ARGUMENTS` as one shell command line (for `script`), with the environment
    /// ``run(_:in:environment:file:line:)`` gives it.
    public static func shellCommand(_ arguments: [String], environment: [String: String] = [:]) -> String {
        func quoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let variables = testsInstalledBinary ? ["env", "-i"] + binaryEnvironment(environment).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } : []
        return (variables + [binary.path] + arguments).map(quoted).joined(separator: " ")
    }

    static func failOnSignal(_ watched: Watched, _ arguments: [String], file: StaticString, line: UInt) {
        guard let signal = watched.signal, !watched.timedOut else { return }
        XCTFail("imageprep \(arguments.joined(separator: " ")) died with signal \(signal): \(watched.output.stderr.suffix(2000))",
                file: file, line: line)
    }

    /// Runs any program, reading its standard output and error fully.
    public static func runProcess(
        _ executable: URL, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]
    ) throws -> Output {
        try launch(
            executable, arguments, in: directory,
            environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new }, timeout: nil
        ).output
    }

    /// How a run under a watchdog ended.
    public struct Watched: Sendable {
        public var output: Output
        /// The signal that ended the process, if one did.
        public var signal: Int32?
        /// The watchdog killed it: it ran past the timeout.
        public var timedOut: Bool
    }

    /// Runs the binary, killing it with SIGKILL if it runs longer than `timeout` seconds.
    public static func run(
        _ arguments: [String], timeout: TimeInterval, environment: [String: String] = [:]
    ) throws -> Watched {
        try launch(binary, arguments, in: nil, environment: binaryEnvironment(environment), timeout: timeout)
    }

    /// Runs `executable`, reading both pipes concurrently so a full pipe never blocks the
    /// child; with a `timeout`, a watchdog kills it with SIGKILL once that many seconds pass.
    private static func launch(
        _ executable: URL, _ arguments: [String], in directory: URL?, environment: [String: String],
        timeout: TimeInterval?
    ) throws -> Watched {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        // Nothing reads the test's own stdin, whatever it is (ansible-playbook refuses a
        // non-blocking one).
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let fired = Atomic<Bool>(false)
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem {
            fired.store(true, ordering: .sequentiallyConsistent)
            kill(pid, SIGKILL)
        }
        if let timeout { DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog) }
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        watchdog.cancel()
        let signalled = process.terminationReason == .uncaughtSignal
        return Watched(
            output: Output(
                status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                stderr: String(decoding: errData, as: UTF8.self)),
            signal: signalled ? process.terminationStatus : nil,
            timedOut: fired.load(ordering: .sequentiallyConsistent))
    }

    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
