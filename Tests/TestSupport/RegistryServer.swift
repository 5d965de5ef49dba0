import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A real `docker-registry` process on 127.0.0.1 with its own storage, for one test class.
public final class RegistryServer: @unchecked Sendable {
    public enum Auth {
        case none
        case htpasswd(user: String, password: String)
        /// `auth: token:`: clients get JWTs from `realm`, signed by the key of the certificate
        /// in `rootCertBundle`.
        case token(realm: String, issuer: String, service: String, rootCertBundle: String)
    }

    public struct TLSFiles {
        public var caCertificate: String
        public var certificate: String
        public var key: String
    }

    public let directory: URL
    public let host: String
    public let port: Int
    public let address: String
    private var process = Process()
    private let logURL: URL
    private let configPath: String

    /// A registry on `host` (any 127.x.y.z address) and `port` (a free one if nil).
    public init(auth: Auth = .none, tls: TLSFiles? = nil, host: String = "127.0.0.1", port: Int? = nil) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("imageprep-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.host = host
        self.port = try port ?? Self.freePort()
        address = "\(host):\(self.port)"
        logURL = directory.appendingPathComponent("registry.log")

        var config = """
            version: 0.1
            log:
              level: info
              accesslog:
                disabled: false
            storage:
              filesystem:
                rootdirectory: \(directory.path)/storage
              delete:
                enabled: true
            http:
              addr: \(address)

            """
        if let tls {
            config += """
                  tls:
                    certificate: \(tls.certificate)
                    key: \(tls.key)

                """
        }
        if case .htpasswd(let user, let password) = auth {
            let htpasswd = try Self.run("/usr/bin/htpasswd", ["-Bbn", user, password])
            let path = directory.appendingPathComponent("htpasswd").path
            try htpasswd.write(toFile: path, atomically: true, encoding: .utf8)
            config += """
                auth:
                  htpasswd:
                    realm: imageprep-test
                    path: \(path)

                """
        }
        if case .token(let realm, let issuer, let service, let bundle) = auth {
            config += """
                auth:
                  token:
                    realm: \(realm)
                    issuer: \(issuer)
                    service: \(service)
                    rootcertbundle: \(bundle)

                """
        }
        configPath = directory.appendingPathComponent("config.yml").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)

        try Data().write(to: logURL)
        try launch()
    }

    private func launch() throws {
        let log = try FileHandle(forWritingTo: logURL)
        log.seekToEndOfFile()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", configPath]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try waitUntilListening()
    }

    public var storageDirectory: URL { directory.appendingPathComponent("storage") }

    /// The registry process's id, while it runs.
    public var processIdentifier: Int32 { process.processIdentifier }

    /// Kills the registry with SIGKILL, as a crash or the OOM killer would: no request is
    /// finished, the storage stays as it was at that instant.
    public func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Starts the registry again on the same address and storage.
    public func restart() throws {
        guard !process.isRunning else { return }
        try launch()
    }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// API requests in the access log, as `METHOD PATH` lines.
    public func requests() -> [String] {
        let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let start = line.range(of: "\"") else { return nil }
            let rest = line[start.upperBound...]
            let parts = rest.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[1].hasPrefix("/v2/"),
                  ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"].contains(String(parts[0]))
            else { return nil }
            return "\(parts[0]) \(parts[1])"
        }
    }

    /// Waits for the access log to settle, then returns the requests made after `count`.
    public func requests(after count: Int) async throws -> [String] {
        var last = -1
        for _ in 0..<20 {
            let now = requests().count
            if now == last { break }
            last = now
            try await Task.sleep(for: .milliseconds(100))
        }
        return Array(requests().dropFirst(count))
    }

    /// Overwrites a stored blob with other bytes of the same size, as disk corruption would.
    public func corruptBlob(_ digest: String) throws {
        let hex = String(digest.dropFirst("sha256:".count))
        let path = storageDirectory.appendingPathComponent(
            "docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data")
        var data = try Data(contentsOf: path)
        for index in data.indices { data[index] ^= 0xFF }
        try data.write(to: path)
    }

    /// Replaces a stored blob's bytes, as a hostile or broken registry would serve them.
    public func replaceBlob(_ digest: String, with data: Data) throws {
        let hex = String(digest.dropFirst("sha256:".count))
        try data.write(to: storageDirectory.appendingPathComponent(
            "docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"))
    }

    private func waitUntilListening() throws {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            guard process.isRunning else {
                let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
                throw NSError(domain: "RegistryServer", code: 1,
                              userInfo: [NSLocalizedDescriptionKey: "docker-registry exited: \(log)"])
            }
            if Self.canConnect(port, host: host) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw NSError(domain: "RegistryServer", code: 2,
                      userInfo: [NSLocalizedDescriptionKey: "docker-registry did not listen on \(address)"])
    }

    private static func loopback(_ port: Int, host: String = "127.0.0.1") -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        return address
    }

    private static func canConnect(_ port: Int, host: String) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port, host: host)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw NSError(domain: "RegistryServer", code: 3) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "RegistryServer", code: Int(process.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "\(executable) \(arguments.first ?? "") failed"])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// A CA and a certificate for 127.0.0.1 signed by it, made with openssl.
    public static func makeTLSFiles(in directory: URL) throws -> TLSFiles {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let openssl = "/usr/bin/openssl"
        try run(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=imageprep test CA",
                          "-addext", "basicConstraints=critical,CA:TRUE",
                          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], in: directory)
        try run(openssl, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], in: directory)
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(to: directory.appendingPathComponent("server.ext"), atomically: true, encoding: .utf8)
        try run(openssl, ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                          "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext"],
                in: directory)
        return TLSFiles(caCertificate: directory.appendingPathComponent("ca.crt").path,
                        certificate: directory.appendingPathComponent("server.crt").path,
                        key: directory.appendingPathComponent("server.key").path)
    }
}
