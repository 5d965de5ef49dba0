import Foundation
import ImagePrepOCI
@testable import ImagePrepRegistry
import XCTest

final class ReferenceTests: XCTestCase {
    func testDockerDefaults() throws {
        let short = try Reference("ubuntu")
        XCTAssertEqual(short.registry, "registry-1.docker.io")
        XCTAssertEqual(short.repository, "library/ubuntu")
        XCTAssertNil(short.tag)
        XCTAssertEqual(short.manifestReference, "latest")

        let hub = try Reference("docker.io/tripleomaster/centos-binary-nova-api:current-tripleo")
        XCTAssertEqual(hub.registry, "registry-1.docker.io")
        XCTAssertEqual(hub.repository, "tripleomaster/centos-binary-nova-api")
        XCTAssertEqual(hub.tag, "current-tripleo")

        let namespaced = try Reference("tripleomaster/nova:1")
        XCTAssertEqual(namespaced.registry, "registry-1.docker.io")
        XCTAssertEqual(namespaced.repository, "tripleomaster/nova")
    }

    func testRegistryDetection() throws {
        let withPort = try Reference("192.168.24.1:8787/tripleo/nova-api:17.1_20230101.1")
        XCTAssertEqual(withPort.registry, "192.168.24.1:8787")
        XCTAssertEqual(withPort.repository, "tripleo/nova-api")
        XCTAssertEqual(withPort.tag, "17.1_20230101.1")

        let localhost = try Reference("localhost/app")
        XCTAssertEqual(localhost.registry, "localhost")
        XCTAssertEqual(localhost.repository, "app")

        let dotted = try Reference("quay.io/tripleomastercentos9/openstack-nova-api")
        XCTAssertEqual(dotted.registry, "quay.io")
        XCTAssertEqual(dotted.repository, "tripleomastercentos9/openstack-nova-api")
    }

    func testDigestAndTag() throws {
        let hex = String(repeating: "ab", count: 32)
        let reference = try Reference("quay.io/a/b:v1@sha256:\(hex)")
        XCTAssertEqual(reference.tag, "v1")
        XCTAssertEqual(reference.digest?.description, "sha256:\(hex)")
        XCTAssertEqual(reference.manifestReference, "sha256:\(hex)")
        XCTAssertEqual(reference.description, "quay.io/a/b:v1@sha256:\(hex)")
        XCTAssertEqual(try Reference(reference.description), reference)
    }

    func testMalformedReferences() {
        for text in ["", "UPPER/case", "quay.io/a/b:", "quay.io/a/b@sha256:1234", "a//b", "quay.io/a/b:-bad",
                     "has space", "quay.io:99999/a", "/leading", "quay.io/a..b"]
        {
            XCTAssertThrowsError(try Reference(text), text) { error in
                guard case OCIError.invalidReference(let input, _) = error else {
                    return XCTFail("unexpected \(error) for '\(text)'")
                }
                XCTAssertEqual(input, text)
                XCTAssertTrue("\(error)".contains("invalid image reference"))
            }
        }
    }
}

final class TagTemplateTests: XCTestCase {
    func testPlainLabelAndTemplate() throws {
        let labels = ["rdo_version": "abc_123", "version": "17.1", "release": "20230101.1"]
        XCTAssertEqual(try TagTemplate("rdo_version").tag(labels: labels, image: "x"), "abc_123")
        XCTAssertEqual(try TagTemplate("{version}-{release}").tag(labels: labels, image: "x"), "17.1-20230101.1")
        XCTAssertEqual(try TagTemplate("{version}-{release}").labels, ["version", "release"])
    }

    func testMissingLabelAndBadTemplates() {
        XCTAssertThrowsError(try TagTemplate("{version}-{release}").tag(labels: ["version": "1"], image: "q/x:1")) {
            guard case RegistryError.missingLabel(let image, let label, let available) = $0 else { return XCTFail() }
            XCTAssertEqual(image, "q/x:1")
            XCTAssertEqual(label, "release")
            XCTAssertEqual(available, ["version"])
        }
        for bad in ["", "{version", "version}", "{}", "{a{b}}"] {
            XCTAssertThrowsError(try TagTemplate(bad), bad)
        }
        XCTAssertThrowsError(try TagTemplate("v").tag(labels: ["v": "not a tag"], image: "x"))
    }
}

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

final class ClientUnitTests: XCTestCase {
    func testRetryAfterAndBackoff() {
        let policy = RetryPolicy(initialDelay: .milliseconds(100), maxDelay: .milliseconds(1000), maxRetryAfter: .seconds(5))
        XCTAssertEqual(policy.retryAfter("2"), .seconds(2))
        XCTAssertEqual(policy.retryAfter("600"), .seconds(5))
        XCTAssertNil(policy.retryAfter(nil))
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        XCTAssertEqual(policy.retryAfter("Tue, 14 Nov 2023 22:13:23 GMT", now: now), .seconds(3))
        XCTAssertEqual(policy.backoff(afterAttempt: 1), .milliseconds(100))
        XCTAssertEqual(policy.backoff(afterAttempt: 3), .milliseconds(400))
        XCTAssertEqual(policy.backoff(afterAttempt: 10), .milliseconds(1000))
    }

    func testSchema1AndMediaTypes() throws {
        let context = RegistryErrorContext(registry: "r", repository: "a", reference: "1", operation: "fetching manifest")
        let schema1 = Data(#"{"schemaVersion":1,"name":"a","tag":"1","fsLayers":[]}"#.utf8)
        XCTAssertThrowsError(try RegistryClient.manifestMediaType(schema1, contentType: "application/json", context: context)) {
            guard case RegistryError.schema1Manifest = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue("\($0)".contains("schema 1"))
        }
        let oci = Data(#"{"schemaVersion":2,"manifests":[]}"#.utf8)
        XCTAssertEqual(try RegistryClient.manifestMediaType(oci, contentType: nil, context: context), .ociIndex)
        XCTAssertEqual(try RegistryClient.manifestMediaType(Data(), contentType: "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8", context: context), .dockerManifest)
    }

    func testServerMessageAndLinkHeader() {
        let body = Data(#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#.utf8)
        XCTAssertEqual(RegistryError.serverMessage(from: body), "MANIFEST_UNKNOWN: manifest unknown")
        let headers = HTTPHeaders([("Link", #"</v2/_catalog?last=b&n=2>; rel="next""#)])
        XCTAssertEqual(RegistryClient.nextPage(headers), "/v2/_catalog?last=b&n=2")
    }

    func testDigest() throws {
        XCTAssertEqual(Digest(of: Data("abc".utf8)).description,
                       "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertThrowsError(try Digest("sha256:ABC"))
        XCTAssertThrowsError(try Digest("md5:0123"))
    }
}
