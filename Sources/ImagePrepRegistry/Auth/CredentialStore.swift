import Foundation
import ImagePrepOCI

/// Finds the credentials for a registry: those the caller supplied first, then the
/// containers auth files in order.
public struct CredentialStore: Sendable {
    private var entries: [String: Credentials] = [:]

    /// Entries from `credentials` win over entries from `authFiles`; earlier files win over
    /// later ones. Missing files are skipped; malformed ones are an error.
    public init(credentials: [String: Credentials] = [:], authFiles: [String] = []) throws {
        for path in authFiles.reversed() {
            for (key, value) in try Self.load(path) {
                entries[Self.normalize(key)] = value
            }
        }
        for (key, value) in credentials {
            entries[Self.normalize(key)] = value
        }
    }

    /// `[registry: (user, password)]`, as in ContainerImageRegistryCredentials.
    public init(userPasswords: [String: (user: String, password: String)], authFiles: [String] = []) throws {
        try self.init(
            credentials: userPasswords.mapValues { Credentials(username: $0.user, password: $0.password) },
            authFiles: authFiles
        )
    }

    /// The auth files the containers tools read, in order of precedence: `$REGISTRY_AUTH_FILE`,
    /// `$XDG_RUNTIME_DIR/containers/auth.json`, `~/.docker/config.json`.
    public static func defaultAuthFiles(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> [String]
    {
        var files: [String] = []
        if let path = environment["REGISTRY_AUTH_FILE"], !path.isEmpty { files.append(path) }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            files.append(runtime + "/containers/auth.json")
        }
        if let home = environment["HOME"], !home.isEmpty { files.append(home + "/.docker/config.json") }
        return files
    }

    /// Every entry, keyed by normalised registry (`host[:port]`, or `host/namespace`), e.g. to
    /// hand the run's logins to another containers tool.
    public var all: [String: Credentials] { entries }

    /// The credentials for `registry`, preferring an entry for the repository or one of its
    /// namespaces (`host/namespace`) over one for the whole host.
    public func credentials(registry: String, repository: String? = nil) -> Credentials? {
        let host = Self.normalize(registry)
        if let repository {
            var path = repository.split(separator: "/").map(String.init)
            while !path.isEmpty {
                if let found = entries["\(host)/\(path.joined(separator: "/"))"] { return found }
                path.removeLast()
            }
        }
        return entries[host]
    }

    static func normalize(_ key: String) -> String {
        var key = key.lowercased()
        for prefix in ["https://", "http://"] where key.hasPrefix(prefix) {
            key.removeFirst(prefix.count)
        }
        while key.hasSuffix("/") { key.removeLast() }
        if key.hasSuffix("/v1") || key.hasSuffix("/v2") { key.removeLast(3) }
        let docker = ["docker.io", "index.docker.io", "registry-1.docker.io"]
        for alias in docker where key == alias || key.hasPrefix(alias + "/") {
            key = Reference.dockerHubRegistry + key.dropFirst(alias.count)
        }
        return key
    }

    private static func load(_ path: String) throws -> [String: Credentials] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        struct File: Decodable {
            struct Entry: Decodable {
                var auth: String?
                var username: String?
                var password: String?
            }
            var auths: [String: Entry]?
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            // The decoder's message could quote the file's content, so it is not passed on.
            throw RegistryError.invalidAuthFile(path: path, reason: "it is not a valid auth JSON file")
        }
        var result: [String: Credentials] = [:]
        for (key, entry) in file.auths ?? [:] {
            if let auth = entry.auth, !auth.isEmpty {
                guard let decoded = Data(base64Encoded: auth).map({ String(decoding: $0, as: UTF8.self) }),
                      let colon = decoded.firstIndex(of: ":")
                else {
                    throw RegistryError.invalidAuthFile(
                        path: path, reason: "the 'auth' entry for \(key) is not base64 of user:password")
                }
                result[key] = Credentials(
                    username: String(decoded[..<colon]),
                    password: String(decoded[decoded.index(after: colon)...]))
            } else if let username = entry.username, let password = entry.password {
                result[key] = Credentials(username: username, password: password)
            }
        }
        return result
    }
}
