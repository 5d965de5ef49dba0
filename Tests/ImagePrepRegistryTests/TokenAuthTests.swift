import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// A registry with `auth: token:`: clients are sent to a token server (a Python script the
/// test runs) for RS256 JWTs the registry checks against the signer's certificate.
final class TokenAuthRegistryTests: XCTestCase {
    static let user = "deployer"
    static let password = "t0ken-Pa55word"
    nonisolated(unsafe) static var tokens: TokenServer!
    nonisolated(unsafe) static var server: RegistryServer!

    override class func setUp() {
        super.setUp()
        do {
            tokens = try TokenServer(user: user, password: password)
            server = try RegistryServer(auth: tokens.registryAuth)
        } catch {
            fatalError("cannot start docker-registry with token auth: \(error)")
        }
    }

    override class func tearDown() {
        server?.stop()
        tokens?.stop()
        super.tearDown()
    }

    func client(password: String?) throws -> RegistryClient {
        let address = Self.server.address
        let credentials = try CredentialStore(
            userPasswords: password.map { [address: (user: Self.user, password: $0)] } ?? [:])
        return RegistryClient(configuration: .init(
            credentials: credentials, insecureRegistries: [address],
            retry: RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(50))))
    }

    func testPushAndPullWithPasswordReuseTokensAcrossRequests() async throws {
        let client = try client(password: Self.password)
        let reference = try Reference("\(Self.server.address)/token/nova-api:current-tripleo")
        let hitsBefore = Self.tokens.hits().count
        let requestsBefore = Self.server.requests().count

        let pushed = try await TestImages.push(
            client, to: reference,
            layers: [TestImages.layer(seed: "token-1", size: 4096), TestImages.layer(seed: "token-2", size: 2048)],
            labels: ["rdo_version": "35414701c176_43527485"])
        for _ in 0..<3 {
            let tag = try await client.fetchImageConfig(reference).labels["rdo_version"]
            XCTAssertEqual(tag, "35414701c176_43527485")
            let head = try await client.headManifest(reference)
            XCTAssertEqual(head?.digest, pushed.digest)
            let size = try await client.headBlob(reference, digest: pushed.manifest.layers[0].digest)
            XCTAssertEqual(size, 4096)
        }

        let requests = try await Self.server.requests(after: requestsBefore)
        let hits = Array(Self.tokens.hits().dropFirst(hitsBefore))
        // Pushing three blobs and a manifest, then three rounds of pulls: many requests,
        // one token per scope set (push, pull), each fetched with the password.
        XCTAssertGreaterThanOrEqual(requests.count, 15, "\(requests)")
        XCTAssertEqual(hits.count, 2, "\(hits)")
        XCTAssertEqual(Set(hits), [
            "\(Self.user) 200 repository:token/nova-api:pull,push",
            "\(Self.user) 200 repository:token/nova-api:pull",
        ])
    }

    func testAnonymousPullIsRefused() async throws {
        let owner = try client(password: Self.password)
        let reference = try Reference("\(Self.server.address)/token/keystone:1")
        let pushed = try await TestImages.push(owner, to: reference, layers: [TestImages.layer(seed: "anon", size: 1024)])
        let head = try await owner.headManifest(reference)
        XCTAssertEqual(head?.digest, pushed.digest, "the image is there for whoever may pull it")

        let hitsBefore = Self.tokens.hits().count
        let anonymous = try client(password: nil)
        do {
            _ = try await anonymous.fetchManifest(reference)
            XCTFail("an anonymous pull must be refused")
        } catch let error as RegistryError {
            guard case .unauthorized(let context, let status, let user, _) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(status, 401)
            XCTAssertNil(user)
            XCTAssertEqual(context.registry, Self.server.address)
            XCTAssertTrue(error.description.contains("no credentials are configured"), error.description)
        }
        // The refusal came through the token flow: anonymous tokens that grant nothing.
        let hits = Array(Self.tokens.hits().dropFirst(hitsBefore))
        XCTAssertFalse(hits.isEmpty)
        XCTAssertTrue(hits.allSatisfy { $0.hasPrefix("- 200 repository:token/keystone:pull") }, "\(hits)")
    }

    func testWrongPasswordGivesClearErrorWithoutThePassword() async throws {
        let wrong = "wr0ng-t0ken-Pa55word-do-not-print"
        let client = try client(password: wrong)
        let reference = try Reference("\(Self.server.address)/token/glance-api:1")
        let hitsBefore = Self.tokens.hits().count
        do {
            _ = try await client.fetchManifest(reference)
            XCTFail("expected unauthorized")
        } catch let error as RegistryError {
            guard case .unauthorized(let context, let status, let user, _) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(status, 401)
            XCTAssertEqual(user, Self.user)
            XCTAssertEqual(context.repository, "token/glance-api")
            let text = "\(error) \(String(reflecting: error)) \(error.localizedDescription)"
            XCTAssertFalse(text.contains(wrong), text)
            XCTAssertFalse(text.contains(Self.password), text)
            XCTAssertTrue(text.contains(Self.server.address), text)
            XCTAssertTrue(text.contains("'\(Self.user)' were rejected"), text)
        }
        let hits = Array(Self.tokens.hits().dropFirst(hitsBefore))
        XCTAssertEqual(hits, ["\(Self.user) 401 repository:token/glance-api:pull"])
    }
}
