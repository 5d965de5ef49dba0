import Foundation
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest
import ImagePrepOCI

/// Push destinations get verified TLS like any registry: plain HTTP or unverified TLS only
/// for a registry the operator marked insecure, or the undercloud's own `:8787`. Real
/// `docker-registry` processes: a plain-HTTP source, a TLS destination with a test CA, a
/// plain-HTTP destination and one on port 8787 (on 127.0.0.87, so no other test's port).
final class DestinationTLSTests: XCTestCase {
    nonisolated(unsafe) static var source: RegistryServer!
    nonisolated(unsafe) static var secure: RegistryServer!
    nonisolated(unsafe) static var plain: RegistryServer!
    nonisolated(unsafe) static var undercloud: RegistryServer?
    nonisolated(unsafe) static var files: RegistryServer.TLSFiles!
    nonisolated(unsafe) static var work: URL!
    nonisolated(unsafe) static var pushed: TestImages.Pushed!

    override class func setUp() {
        super.setUp()
        do {
            work = try CLI.temporaryDirectory()
            files = try RegistryServer.makeTLSFiles(in: work.appendingPathComponent("tls"))
            source = try RegistryServer()
            secure = try RegistryServer(tls: files)
            plain = try RegistryServer()
            // Port 8787 of another loopback address: absent when something else holds it.
            undercloud = try? RegistryServer(host: "127.0.0.87", port: 8787)
            try """
                container_images_template:
                - imagename: "{{namespace}}/app:{{tag}}"
                  params: [AppImage]
                """.write(to: work.appendingPathComponent("t.yaml.j2"), atomically: true, encoding: .utf8)
            let client = RegistryClient(configuration: .init(insecureRegistries: [source.address]))
            pushed = try runBlocking {
                try await TestImages.push(
                    client, to: try Reference("\(source.address)/tls/app:current-tripleo"),
                    layers: [TestImages.layer(seed: "destination-tls", size: 256 * 1024)])
            }
        } catch {
            fatalError("cannot start the registries: \(error)")
        }
    }

    override class func tearDown() {
        for server in [source, secure, plain, undercloud] { server?.stop() }
        if let work { try? FileManager.default.removeItem(at: work) }
        super.tearDown()
    }

    /// `prepare` copying the source's image to `destination`; `insecure` lists extra
    /// registries for the env file's `DockerInsecureRegistryAddress`.
    func prepare(to destination: String, insecure: [String] = [], _ options: [String] = []) throws -> CLI.Output {
        let env = Self.work.appendingPathComponent("env-\(UUID().uuidString).yaml")
        try """
            parameter_defaults:
              DockerInsecureRegistryAddress: [\(([Self.source.address] + insecure).joined(separator: ", "))]
              ContainerImagePrepare:
              - push_destination: \(destination)
                set: {namespace: \(Self.source.address)/tls, tag: current-tripleo}
            """.write(to: env, atomically: true, encoding: .utf8)
        return try CLI.run([
            "prepare", "-e", env.path, "--template-file", Self.work.appendingPathComponent("t.yaml.j2").path,
            "--no-cache", "--stall-timeout", "5",
        ] + options)
    }

    /// The digest of `app:current-tripleo` at `registry`, read with verification (and the test CA) for
    /// the TLS registry.
    func copiedDigest(at registry: RegistryServer) async throws -> Digest? {
        let client = RegistryClient(configuration: .init(
            insecureRegistries: registry === Self.secure ? [] : [registry.address], caFile: Self.files.caCertificate))
        return try await client.headManifest(try Reference("\(registry.address)/tls/app:current-tripleo"))?.digest
    }

    func testTLSDestinationWithATrustedCAIsReachedWithVerification() async throws {
        let run = try prepare(to: Self.secure.address, ["--ca-cert", Self.files.caCertificate])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("AppImage: \(Self.secure.address)/tls/app:current-tripleo\n"), run.stdout)
        // Reached over verified TLS: not listed in DockerInsecureRegistryAddress; nor is the
        // insecure source, which no parameter names.
        XCTAssertFalse(run.stdout.contains("DockerInsecureRegistryAddress"), run.stdout)
        let digest = try await copiedDigest(at: Self.secure)
        XCTAssertEqual(digest, Self.pushed.digest)
    }

    func testTLSDestinationWithAnUntrustedCertificateFailsUnlessMarkedInsecure() async throws {
        let address = Self.secure.address
        let run = try prepare(to: address)
        XCTAssertEqual(run.status, 1, run.stdout)
        let lines = run.stderr.split(separator: "\n")
        let reason = try XCTUnwrap(lines.first { $0.contains("TLS connection to registry \(address) failed") }, run.stderr)
        XCTAssertTrue(reason.contains("--insecure-registry \(address)"), run.stderr)
        XCTAssertTrue(reason.contains("certificate"), run.stderr)
        XCTAssertFalse(run.stderr.contains("/tmp/"), run.stderr)

        // Marked insecure on the command line: unverified TLS, and the env file lists it.
        let marked = try prepare(to: address, ["--insecure-registry", address])
        XCTAssertEqual(marked.status, 0, marked.stderr)
        XCTAssertTrue(marked.stdout.contains("  - \(address)\n"), marked.stdout)
        let digest = try await copiedDigest(at: Self.secure)
        XCTAssertEqual(digest, Self.pushed.digest)
    }

    /// Several images failing TLS at once share the registry's one `/v2/` probe; each error
    /// still names its own image's request, never the one that started the probe.
    func testConcurrentTLSFailuresEachNameTheirOwnImage() async throws {
        let client = RegistryClient(configuration: .init())
        let names = (0..<8).map { "tls/image\($0):1" }
        let address = Self.secure.address
        let failures = await withTaskGroup(of: (String, String).self) { group in
            for name in names {
                group.addTask {
                    do {
                        _ = try await client.fetchManifest(try Reference("\(address)/\(name)"))
                        return (name, "no error")
                    } catch {
                        return (name, "\(error)")
                    }
                }
            }
            return await group.reduce(into: [String: String]()) { $0[$1.0] = $1.1 }
        }
        XCTAssertEqual(failures.count, names.count)
        for (name, message) in failures {
            XCTAssertTrue(message.contains("TLS connection to registry \(address) failed"), message)
            XCTAssertTrue(message.contains("\(address)/\(name)"), "\(name): \(message)")
            for other in names where other != name {
                XCTAssertFalse(message.contains("/\(other)"), "\(name)'s error names \(other): \(message)")
            }
        }
    }

    func testPlainHTTPDestinationIsRefusedUnlessMarkedInsecure() async throws {
        let address = Self.plain.address
        let refused = try prepare(to: address)
        XCTAssertEqual(refused.status, 1, refused.stdout)
        XCTAssertTrue(refused.stderr.contains("TLS connection to registry \(address) failed"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--insecure-registry \(address)"), refused.stderr)
        let nothing = try await copiedDigest(at: Self.plain)
        XCTAssertNil(nothing, "nothing was sent over plain HTTP: no silent downgrade")

        // Marked in the environment (DockerInsecureRegistryAddress): plain HTTP.
        let marked = try prepare(to: address, insecure: [address])
        XCTAssertEqual(marked.status, 0, marked.stderr)
        let digest = try await copiedDigest(at: Self.plain)
        XCTAssertEqual(digest, Self.pushed.digest)
    }

    func testPlainHTTPDestinationMarkedInRegistriesConf() async throws {
        let address = Self.plain.address
        let conf = Self.work.appendingPathComponent("registries.conf")
        try "[[registry]]\nlocation = \"\(address)\"\ninsecure = true\n".write(to: conf, atomically: true, encoding: .utf8)
        let run = try prepare(to: address, ["--registries-conf", conf.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let digest = try await copiedDigest(at: Self.plain)
        XCTAssertEqual(digest, Self.pushed.digest)
    }

    func testTheUndercloudPort8787NeedsNoMarking() async throws {
        let undercloud = try XCTUnwrap(Self.undercloud, "127.0.0.87:8787 is taken")
        let run = try prepare(to: undercloud.address)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("AppImage: 127.0.0.87:8787/tls/app:current-tripleo\n"), run.stdout)
        XCTAssertTrue(run.stdout.contains("  - 127.0.0.87:8787\n"), run.stdout)
        let digest = try await copiedDigest(at: undercloud)
        XCTAssertEqual(digest, Self.pushed.digest)
    }
}
