import Foundation
@testable import ImagePrepRegistry
import XCTest

final class AuthUnitTests: XCTestCase {
    func testBearerChallengeParsing() {
        let challenge = AuthChallenge(
            header: #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#)
        XCTAssertEqual(challenge, .bearer(realm: "https://auth.example/token", service: "registry.example",
                                          scope: "repository:a/b:pull,push"))
        XCTAssertEqual(AuthChallenge(header: #"Basic realm="Registry Realm""#), .basic)
        XCTAssertNil(AuthChallenge(header: "Negotiate"))
    }

    func testAuthFilesAndPrecedence() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-auth-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = directory.appendingPathComponent("auth.json")
        let second = directory.appendingPathComponent("config.json")
        let encoded = Data("alice:pa:ss".utf8).base64EncodedString()
        try #"{"auths":{"https://quay.io/v2/":{"auth":"\#(encoded)"},"quay.io/team":{"auth":"\#(Data("team:t".utf8).base64EncodedString())"}}}"#
            .write(to: first, atomically: true, encoding: .utf8)
        try #"{"auths":{"quay.io":{"auth":"\#(Data("bob:b".utf8).base64EncodedString())"},"https://index.docker.io/v1/":{"auth":"\#(Data("hub:h".utf8).base64EncodedString())"}}}"#
            .write(to: second, atomically: true, encoding: .utf8)

        let store = try CredentialStore(authFiles: [first.path, second.path, directory.appendingPathComponent("missing").path])
        XCTAssertEqual(store.credentials(registry: "quay.io"), Credentials(username: "alice", password: "pa:ss"))
        XCTAssertEqual(store.credentials(registry: "quay.io", repository: "team/app")?.username, "team")
        XCTAssertEqual(store.credentials(registry: "registry-1.docker.io")?.username, "hub")
        XCTAssertNil(store.credentials(registry: "example.com"))

        let explicit = try CredentialStore(userPasswords: ["quay.io": (user: "carol", password: "c")],
                                           authFiles: [first.path])
        XCTAssertEqual(explicit.credentials(registry: "quay.io")?.username, "carol")

        let broken = directory.appendingPathComponent("broken.json")
        try "{not json secret123".write(to: broken, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CredentialStore(authFiles: [broken.path])) { error in
            XCTAssertFalse("\(error)".contains("secret123"))
        }
    }

    func testDefaultAuthFileOrder() {
        let files = CredentialStore.defaultAuthFiles(environment: [
            "REGISTRY_AUTH_FILE": "/a.json", "XDG_RUNTIME_DIR": "/run/user/0", "HOME": "/root",
        ])
        XCTAssertEqual(files, ["/a.json", "/run/user/0/containers/auth.json", "/root/.docker/config.json"])
    }

    func testCredentialsNeverShowThePassword() {
        let credentials = Credentials(username: "u", password: "hunter2")
        for text in ["\(credentials)", String(reflecting: credentials), "\(Mirror(reflecting: credentials).children.map(\.value))"] {
            XCTAssertFalse(text.contains("hunter2"), text)
        }
    }
}
