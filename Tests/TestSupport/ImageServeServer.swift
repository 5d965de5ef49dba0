import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Debian's real apache2 in the foreground on 127.0.0.1, serving an image-serve directory
/// with tripleo-ansible's `tripleo_image_serve` vhost (scripts/lib/image-serve-httpd.conf, the
/// demo's and the bench's too), for one test class. Its workers run
/// as www-data, so the directory is made readable by everyone.
public final class ImageServeServer: @unchecked Sendable {
    public let directory: URL
    /// The DocumentRoot: the image-serve directory (`--image-serve-dir`).
    public let root: URL
    public let port: Int
    public let address: String
    private let process = Process()
    private let logURL: URL
    private let accessLogURL: URL

    public init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("imageprep-image-serve-\(UUID().uuidString)")
        root = directory.appendingPathComponent("image-serve")
        let run = directory.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("v2"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        // As the tripleo_image_serve role leaves it.
        try Data("{}".utf8).write(to: root.appendingPathComponent("v2/index.json"))
        for path in [directory, root, root.appendingPathComponent("v2")] {
            chmod(path.path, 0o755)
        }
        chmod(root.appendingPathComponent("v2/index.json").path, 0o644)
        port = try RegistryServer.freePort()
        address = "127.0.0.1:\(port)"
        logURL = run.appendingPathComponent("error.log")
        accessLogURL = run.appendingPathComponent("access.log")

        let config = try Self.configuration(
            run: run.path, root: root.path, address: address,
            requestLog: "LogFormat \"\\\"%r\\\" %>s\" imageprep\nCustomLog \(accessLogURL.path) imageprep")
        let configPath = run.appendingPathComponent("httpd.conf").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)

        let output = run.appendingPathComponent("apache2.out")
        try Data().write(to: output)
        let log = try FileHandle(forWritingTo: output)
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/apache2")
        process.arguments = ["-f", configPath, "-DFOREGROUND"]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            guard process.isRunning else {
                let text = ((try? String(contentsOf: output, encoding: .utf8)) ?? "")
                    + ((try? String(contentsOf: logURL, encoding: .utf8)) ?? "")
                throw NSError(domain: "ImageServeServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "apache2 exited: \(text)"])
            }
            if (try? RegistryServer.run("/usr/bin/curl", ["-sf", "-o", "/dev/null", "http://\(address)/v2/"])) != nil { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw NSError(domain: "ImageServeServer", code: 2, userInfo: [NSLocalizedDescriptionKey: "apache2 did not listen on \(address)"])
    }

    /// The image-serve's httpd configuration as scripts/lib/image-serve.sh renders it for the
    /// demo and the bench: scripts/lib/image-serve-httpd.conf with its @ words replaced.
    static func configuration(run: String, root: String, address: String, requestLog: String) throws -> String {
        let template = CLI.packageRoot.appendingPathComponent("scripts/lib/image-serve-httpd.conf")
        var text = try String(contentsOf: template, encoding: .utf8)
        for (word, value) in [("@RUN@", run), ("@ROOT@", root), ("@ADDRESS@", address), ("@REQUEST_LOG@", requestLog)] {
            text = text.replacingOccurrences(of: word, with: value)
        }
        return text
    }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Requests in the access log, as `METHOD PATH STATUS` lines.
    public func requests() -> [String] {
        let text = (try? String(contentsOf: accessLogURL, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { line in
            line.replacingOccurrences(of: "\"", with: "").replacingOccurrences(of: " HTTP/1.1", with: "")
        }
    }

    /// Every file under the directory with its inode and modification time, to show that a
    /// run wrote nothing.
    public func snapshot() -> [String: String] {
        var result: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        while let relative = enumerator?.nextObject() as? String {
            var info = stat()
            guard lstat(root.appendingPathComponent(relative).path, &info) == 0 else { continue }
            result[relative] = "\(info.st_ino) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_size)"
        }
        return result
    }

    /// The inode of a file under the directory.
    public func inode(_ relative: String) -> UInt64? {
        var info = stat()
        guard stat(root.appendingPathComponent(relative).path, &info) == 0 else { return nil }
        return UInt64(info.st_ino)
    }
}
