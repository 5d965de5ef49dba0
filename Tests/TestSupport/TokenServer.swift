import Foundation

/// A token server for `docker-registry`'s `auth: token:`: it answers `GET /token` with an
/// RS256 JWT signed (by `openssl dgst`) with a key whose certificate is the registry's
/// `rootcertbundle`. The right user and password get every action the scopes ask for; an
/// anonymous caller gets a token granting nothing; a wrong password gets 401.
/// Every token request is logged to `hits.log` as `USER STATUS SCOPES`.
public final class TokenServer: @unchecked Sendable {
    public static let issuer = "imageprep-test-issuer"
    public static let service = "imageprep-test-registry"

    private let service: PythonService
    public var realm: String { "http://\(service.address)/token" }
    public var certificate: String { service.directory.appendingPathComponent("token.crt").path }

    /// Tokens live `lifetime` seconds (the registry rejects them after that).
    public init(user: String, password: String, lifetime: Int = 300) throws {
        service = try PythonService(
            name: "token-server", script: "token_server.py",
            arguments: [user, password, Self.issuer, Self.service, String(lifetime)]
        ) { directory in
            try RegistryServer.run("/usr/bin/openssl", [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "token.key", "-out", "token.crt",
                "-days", "2", "-subj", "/CN=imageprep test token signer",
            ], in: directory)
        }
    }

    /// `auth: token:` settings for a `RegistryServer` that trusts this server.
    public var registryAuth: RegistryServer.Auth {
        .token(realm: realm, issuer: Self.issuer, service: Self.service, rootCertBundle: certificate)
    }

    /// Token requests so far, as `USER STATUS SCOPES` (`-` for anonymous).
    public func hits() -> [String] { service.lines(of: "hits.log") }

    public func stop() { service.stop() }
}
