import Foundation

/// A small Python 3 HTTP server (standard library only) the tests run on 127.0.0.1: the
/// script binds port 0 and writes the port it got to a file, so there is no race for ports.
public final class PythonService: @unchecked Sendable {
    public let directory: URL
    public let port: Int
    public var address: String { "127.0.0.1:\(port)" }
    private let process = Process()
    private let logURL: URL

    /// The servers' scripts: `Tests/TestSupport/Servers/*.py`.
    public static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Servers")

    /// Runs `Servers/SCRIPT` as `python3 SCRIPT PORTFILE ARGUMENTS...` in a new temporary
    /// directory (its logs and state go there). `prepare` runs first, in the directory.
    public init(name: String, script: String, arguments: [String] = [],
                prepare: (URL) throws -> Void = { _ in }) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("imageprep-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try prepare(directory)
        let scriptURL = Self.scripts.appendingPathComponent(script)
        let portURL = directory.appendingPathComponent("port")
        logURL = directory.appendingPathComponent("\(name).log")
        try Data().write(to: logURL)
        let log = try FileHandle(forWritingTo: logURL)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [scriptURL.path, portURL.path] + arguments
        process.currentDirectoryURL = directory
        process.standardOutput = log
        process.standardError = log
        try process.run()

        let deadline = Date().addingTimeInterval(15)
        var found: Int?
        while Date() < deadline {
            if let text = try? String(contentsOf: portURL, encoding: .utf8),
               text.hasSuffix("\n"), let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                found = value
                break
            }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard let found else {
            let output = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            if process.isRunning { process.terminate() }
            throw NSError(domain: "PythonService", code: 1,
                          userInfo: [NSLocalizedDescriptionKey: "\(name).py did not start: \(output)"])
        }
        port = found
    }

    /// The lines of a file the script writes in its directory.
    public func lines(of file: String) -> [String] {
        let text = (try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
