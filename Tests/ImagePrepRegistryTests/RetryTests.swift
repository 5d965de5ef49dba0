import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// A real registry behind a fault-injecting proxy (a Python script the test runs) that
/// answers chosen requests with 429 or 503 before letting them through.
final class RetryThroughFaultProxyTests: XCTestCase {
    nonisolated(unsafe) static var registry: RegistryServer!
    nonisolated(unsafe) static var proxy: FaultProxy!

    override class func setUp() {
        super.setUp()
        do {
            registry = try RegistryServer()
            proxy = try FaultProxy(upstream: registry.address)
        } catch {
            fatalError("cannot start docker-registry and the fault proxy: \(error)")
        }
    }

    override class func tearDown() {
        proxy?.stop()
        registry?.stop()
        super.tearDown()
    }

    var registry: RegistryServer { Self.registry }
    var proxy: FaultProxy { Self.proxy }

    func client(maxAttempts: Int = 4) -> RegistryClient {
        RegistryClient(configuration: .init(
            insecureRegistries: [registry.address, proxy.address],
            retry: RetryPolicy(maxAttempts: maxAttempts, initialDelay: .milliseconds(50),
                               maxDelay: .milliseconds(200), maxRetryAfter: .seconds(2))))
    }

    /// The proxy's log lines for requests matching `prefix` (`METHOD PATH`), as `STATUS how`.
    func outcomes(_ prefix: String, after count: Int) -> [String] {
        proxy.requests().dropFirst(count).filter { $0.hasPrefix(prefix) }.map {
            $0.split(separator: " ").suffix(2).joined(separator: " ")
        }
    }

    func testTagDiscoveryRetries429And503ThenSucceeds() async throws {
        let client = client()
        let direct = try Reference("\(registry.address)/retry/nova-api:current-tripleo")
        let pushed = try await TestImages.push(client, to: direct, layers: [TestImages.layer(seed: "retry-nova", size: 2048)],
                                               labels: ["rdo_version": "abc_123"])
        let config = pushed.manifest.config.digest
        try proxy.setRules([
            .init(match: "^GET /v2/retry/nova-api/manifests/current-tripleo", status: 429, times: 2, retryAfter: 1),
            .init(match: "^GET /v2/retry/nova-api/blobs/\(config)", status: 503, times: 1),
        ])
        let before = proxy.requests().count

        let started = Date()
        let tag = try await client.fetchImageConfig(try Reference("\(proxy.address)/retry/nova-api:current-tripleo"))
            .labels["rdo_version"]
        let elapsed = Date().timeIntervalSince(started)

        XCTAssertEqual(tag, "abc_123")
        XCTAssertEqual(outcomes("GET /v2/retry/nova-api/manifests/", after: before),
                       ["429 injected", "429 injected", "200 forwarded"])
        XCTAssertEqual(outcomes("GET /v2/retry/nova-api/blobs/", after: before), ["503 injected", "200 forwarded"])
        // Two 429s asking for one second each: Retry-After was honoured, not the 50 ms backoff.
        XCTAssertGreaterThanOrEqual(elapsed, 2.0)
        XCTAssertLessThan(elapsed, 60, "bounded: the attempt counts above prove it; this only catches a hang")
    }

    func testCopyRetriesUploadStartBlobUploadAndManifestPut() async throws {
        let client = client()
        let source = try Reference("\(registry.address)/retry/glance-api:1")
        let pushed = try await TestImages.push(
            client, to: source,
            layers: [TestImages.layer(seed: "retry-glance-1", size: 256 * 1024), TestImages.layer(seed: "retry-glance-2")])
        try proxy.setRules([
            .init(match: "^POST /v2/retry-mirror/glance-api/blobs/uploads/", status: 503, times: 1),
            .init(match: "^PUT /v2/retry-mirror/glance-api/blobs/uploads/", status: 503, times: 1),
            .init(match: "^PUT /v2/retry-mirror/glance-api/manifests/1", status: 429, times: 1, retryAfter: 1),
        ])
        let before = proxy.requests().count

        let destination = try Reference("\(proxy.address)/retry-mirror/glance-api:1")
        let report = try await ImageCopier(client: client).copy(from: source, to: destination)

        XCTAssertEqual(report.outcome, .copied)
        XCTAssertEqual(report.digest, pushed.digest)
        XCTAssertEqual(report.blobsCopied, 3)
        let log = Array(proxy.requests().dropFirst(before))
        XCTAssertEqual(log.filter { $0.hasSuffix("injected") }.count, 3, "\(log)")
        XCTAssertEqual(outcomes("PUT /v2/retry-mirror/glance-api/manifests/1", after: before),
                       ["429 injected", "201 forwarded"])
        let copied = try await client.fetchManifest(try Reference("\(registry.address)/retry-mirror/glance-api:1"))
        XCTAssertEqual(copied.digest, pushed.digest)
        for layer in pushed.manifest.layers {
            let size = try await client.headBlob(try Reference("\(registry.address)/retry-mirror/glance-api"),
                                                 digest: layer.digest)
            XCTAssertEqual(size, layer.size)
        }
    }

    func testPermanentFailureStopsAfterBoundedAttemptsNamingRegistryRepositoryAndStatus() async throws {
        let client = client(maxAttempts: 3)
        try proxy.setRules([.init(match: "^GET /v2/retry/broken/manifests/", status: 503, times: -1)])
        let before = proxy.requests().count

        let started = Date()
        do {
            _ = try await client.fetchManifest(try Reference("\(proxy.address)/retry/broken:current-tripleo"))
            XCTFail("expected the 503 to be final")
        } catch let error as RegistryError {
            guard case .http(let context, let status, let message) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(status, 503)
            XCTAssertEqual(context.registry, proxy.address)
            XCTAssertEqual(context.repository, "retry/broken")
            XCTAssertEqual(message, "UNAVAILABLE: injected fault 503")
            let text = error.description
            XCTAssertTrue(text.contains("\(proxy.address)/retry/broken:current-tripleo"), text)
            XCTAssertTrue(text.contains("HTTP 503"), text)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 60, "bounded attempts, not a hang")
        XCTAssertEqual(outcomes("GET /v2/retry/broken/manifests/", after: before),
                       ["503 injected", "503 injected", "503 injected"])

        // A 429 that never ends: every Retry-After is waited for, and the attempts are bounded too.
        try proxy.setRules([.init(match: "^HEAD /v2/retry/throttled/manifests/", status: 429, times: -1, retryAfter: 1)])
        let throttledStart = Date()
        do {
            _ = try await client.headManifest(try Reference("\(proxy.address)/retry/throttled:1"))
            XCTFail("expected the 429 to be final")
        } catch let error as RegistryError {
            guard case .http(_, let status, _) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(status, 429)
            XCTAssertTrue(error.description.contains("retry/throttled"), error.description)
        }
        let throttled = Date().timeIntervalSince(throttledStart)
        XCTAssertGreaterThanOrEqual(throttled, 2.0)
        XCTAssertLessThan(throttled, 60, "bounded attempts, not a hang")
        XCTAssertEqual(outcomes("HEAD /v2/retry/throttled/manifests/", after: before).count, 3)
    }

    /// An OCI layout as `buildah push oci:DIR` writes it: two layers and a config.
    func writeLayout(seed: String) throws -> (URL, Digest) {
        let layout = FileManager.default.temporaryDirectory.appendingPathComponent("layout-\(seed)-\(UUID().uuidString)")
        let blobs = layout.appendingPathComponent("blobs/sha256")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        func write(_ data: Data, _ mediaType: MediaType) throws -> Descriptor {
            let descriptor = Descriptor(mediaType: mediaType, digest: Digest(of: data), size: Int64(data.count))
            try data.write(to: blobs.appendingPathComponent(descriptor.digest.encoded))
            return descriptor
        }
        let layers = try [TestImages.layer(seed: seed + "-1", size: 200 * 1024), TestImages.layer(seed: seed + "-2")]
            .map { try write($0, .ociLayer) }
        let config = try write(try TestImages.config(labels: ["built": seed]), .ociConfig)
        let manifest = try write(
            try JSONEncoder().encode(Manifest(mediaType: .ociManifest, config: config, layers: layers)), .ociManifest)
        try JSONEncoder().encode(Index(mediaType: .ociIndex, manifests: [manifest]))
            .write(to: layout.appendingPathComponent("index.json"))
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: layout.appendingPathComponent("oci-layout"))
        return (layout, manifest.digest)
    }

    func testLayoutPushRetriesFailedBlobUploadsAndCancelsTheirSessions() async throws {
        let client = client()
        let (layout, digest) = try writeLayout(seed: "layout-retry")
        defer { try? FileManager.default.removeItem(at: layout) }
        // The first blob PUT is refused twice (503, then 502).
        try proxy.setRules([
            .init(match: "^PUT /v2/retry-layout/app/blobs/uploads/", status: 503, times: 1),
            .init(match: "^PUT /v2/retry-layout/app/blobs/uploads/", status: 502, times: 1),
        ])
        let before = proxy.requests().count

        let report = try await OCILayoutPush(client: client)
            .push(layout: layout, to: try Reference("\(proxy.address)/retry-layout/app:built"))

        XCTAssertEqual(report.digest, digest)
        XCTAssertEqual(report.blobs.copied, 3)
        let log = Array(proxy.requests().dropFirst(before))
        XCTAssertEqual(outcomes("PUT /v2/retry-layout/app/blobs/uploads/", after: before).filter { !$0.hasSuffix("forwarded") },
                       ["503 injected", "502 injected"], "\(log)")
        // Each failed upload's session was cancelled before a new one was opened.
        XCTAssertEqual(log.filter { $0.hasPrefix("DELETE /v2/retry-layout/app/blobs/uploads/") }.count, 2, "\(log)")
        XCTAssertEqual(log.filter { $0.hasPrefix("POST /v2/retry-layout/app/blobs/uploads/") }.count, 5, "\(log)")
        let pushed = try await client.fetchManifest(try Reference("\(registry.address)/retry-layout/app:built"))
        XCTAssertEqual(pushed.digest, digest)
    }

    func testLayoutPushThatFailsForGoodCancelsEveryUploadSession() async throws {
        let client = client(maxAttempts: 3)
        let (layout, _) = try writeLayout(seed: "layout-broken")
        defer { try? FileManager.default.removeItem(at: layout) }
        try proxy.setRules([.init(match: "^PUT /v2/retry-layout/broken/blobs/uploads/", status: 503, times: -1)])
        let before = proxy.requests().count

        do {
            _ = try await OCILayoutPush(client: client)
                .push(layout: layout, to: try Reference("\(proxy.address)/retry-layout/broken:built"))
            XCTFail("a registry that refuses every upload must fail the push")
        } catch let error as RegistryError {
            guard case .http(_, let status, _) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(status, 503)
            XCTAssertTrue(error.description.contains("retry-layout/broken"), error.description)
        }
        let log = Array(proxy.requests().dropFirst(before))
        let opened = log.filter { $0.hasPrefix("POST /v2/retry-layout/broken/blobs/uploads/") }
        let cancelled = log.filter { $0.hasPrefix("DELETE /v2/retry-layout/broken/blobs/uploads/") }
        // The first blob: 3 attempts, each with its own session, each cancelled (204 from the registry).
        XCTAssertGreaterThanOrEqual(opened.count, 3, "\(log)")
        XCTAssertEqual(cancelled.count, opened.count, "\(log)")
        XCTAssertTrue(cancelled.allSatisfy { $0.hasSuffix("204 forwarded") }, "\(cancelled)")
        XCTAssertFalse(log.contains { $0.hasPrefix("PUT /v2/retry-layout/broken/manifests/") }, "no manifest names an incomplete image")
    }
}
