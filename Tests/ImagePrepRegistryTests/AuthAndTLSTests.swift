import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// A registry with htpasswd (bcrypt) Basic authentication, over plain HTTP marked insecure.
final class BasicAuthRegistryTests: XCTestCase {
    static let user = "operator"
    static let password = "s3cret-Pa55word"
    nonisolated(unsafe) static var server: RegistryServer!

    override class func setUp() {
        super.setUp()
        do {
            server = try RegistryServer(auth: .htpasswd(user: user, password: password))
        } catch {
            fatalError("cannot start docker-registry: \(error)")
        }
    }

    override class func tearDown() {
        server?.stop()
        super.tearDown()
    }

    func client(password: String?) throws -> RegistryClient {
        let address = Self.server.address
        let credentials = try CredentialStore(
            userPasswords: password.map { [address: (user: Self.user, password: $0)] } ?? [:])
        return RegistryClient(configuration: .init(credentials: credentials, insecureRegistries: [address]))
    }

    func testRightPasswordPushesAndPulls() async throws {
        let client = try client(password: Self.password)
        let reference = try Reference("\(Self.server.address)/secure/heat:1")
        try await TestImages.push(client, to: reference, layers: [TestImages.layer(seed: "heat", size: 2048)],
                                  labels: ["rdo_version": "abc"])
        let tag = try await client.fetchImageConfig(reference).labels["rdo_version"]
        XCTAssertEqual(tag, "abc")
    }

    func testWrongPasswordGivesClearErrorWithoutThePassword() async throws {
        let wrong = "wr0ng-Pa55word-do-not-print"
        let client = try client(password: wrong)
        let reference = try Reference("\(Self.server.address)/secure/heat:1")
        do {
            _ = try await client.fetchManifest(reference)
            XCTFail("expected unauthorized")
        } catch let error as RegistryError {
            guard case .unauthorized(let context, let status, let user, _) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(status, 401)
            XCTAssertEqual(user, Self.user)
            XCTAssertEqual(context.registry, Self.server.address)
            let text = "\(error) \(String(reflecting: error))"
            XCTAssertFalse(text.contains(wrong), text)
            XCTAssertFalse(text.contains(Self.password), text)
            XCTAssertTrue(text.contains(Self.server.address), text)
            XCTAssertTrue(text.contains("operator"), text)
        }
    }

    func testMissingCredentialsSaysNoneConfigured() async throws {
        let client = try client(password: nil)
        do {
            _ = try await client.headManifest(try Reference("\(Self.server.address)/secure/heat:1"))
            XCTFail("expected unauthorized")
        } catch let error as RegistryError {
            guard case .unauthorized = error else { return XCTFail("unexpected \(error)") }
            XCTAssertTrue(error.description.contains("no credentials"), error.description)
        }
    }
}

/// A registry serving TLS with a certificate from a CA the test makes.
final class TLSRegistryTests: XCTestCase {
    nonisolated(unsafe) static var server: RegistryServer!
    nonisolated(unsafe) static var files: RegistryServer.TLSFiles!
    nonisolated(unsafe) static var certificates: URL!

    override class func setUp() {
        super.setUp()
        do {
            certificates = FileManager.default.temporaryDirectory
                .appendingPathComponent("imageprep-tls-\(UUID().uuidString)")
            files = try RegistryServer.makeTLSFiles(in: certificates)
            server = try RegistryServer(tls: files)
        } catch {
            fatalError("cannot start a TLS docker-registry: \(error)")
        }
    }

    override class func tearDown() {
        server?.stop()
        if let certificates { try? FileManager.default.removeItem(at: certificates) }
        super.tearDown()
    }

    func testWorksWithTheTestCA() async throws {
        let client = RegistryClient(configuration: .init(caFile: Self.files.caCertificate))
        let reference = try Reference("\(Self.server.address)/tls/swift:1")
        let pushed = try await TestImages.push(client, to: reference, layers: [TestImages.layer(seed: "swift", size: 4096)])
        let head = try await client.headManifest(reference)
        XCTAssertEqual(head?.digest, pushed.digest)
        let insecure = await client.insecurelyReachedRegistries()
        XCTAssertEqual(insecure, [])
    }

    func testFailsWithoutTheCAAndNamesTheRegistry() async throws {
        let client = RegistryClient(configuration: .init(retry: .none))
        do {
            _ = try await client.headManifest(try Reference("\(Self.server.address)/tls/swift:1"))
            XCTFail("expected a TLS error")
        } catch let error as RegistryError {
            guard case .tls(let context, _) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(context.registry, Self.server.address)
            XCTAssertTrue(error.description.contains(Self.server.address), error.description)
            XCTAssertTrue(error.description.contains("--insecure-registry"), error.description)
        }
    }

    func testInsecureSkipsVerification() async throws {
        let client = RegistryClient(configuration: .init(insecureRegistries: [Self.server.address]))
        let reference = try Reference("\(Self.server.address)/tls/insecure:1")
        try await TestImages.push(client, to: reference, layers: [TestImages.layer(seed: "insecure", size: 1024)])
        let insecure = await client.insecurelyReachedRegistries()
        XCTAssertEqual(insecure, [Self.server.address])
    }
}
