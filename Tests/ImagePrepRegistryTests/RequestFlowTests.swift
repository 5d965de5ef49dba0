import Foundation
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest
import ImagePrepOCI

/// How many requests a copy costs at the destination, read from a real docker-registry's
/// access log, and how many TCP connections carry them (a proxy in front of the destination
/// logs each one it accepts).
final class RequestFlowTests: XCTestCase {
    nonisolated(unsafe) static var source: RegistryServer!
    nonisolated(unsafe) static var destination: RegistryServer!
    nonisolated(unsafe) static var proxy: FaultProxy!

    override class func setUp() {
        super.setUp()
        do {
            source = try RegistryServer()
            destination = try RegistryServer()
            proxy = try FaultProxy(upstream: destination.address)
        } catch {
            fatalError("cannot start docker-registry and the proxy: \(error)")
        }
    }

    override class func tearDown() {
        proxy?.stop()
        source?.stop()
        destination?.stop()
        super.tearDown()
    }

    var source: RegistryServer { Self.source }
    var destination: RegistryServer { Self.destination }
    var proxy: FaultProxy { Self.proxy }

    func makeClient(monolithicUploadLimit: Int64 = 8 * 1024 * 1024, configCache: ConfigBlobCache? = nil) -> RegistryClient {
        RegistryClient(configuration: .init(
            insecureRegistries: [source.address, destination.address, proxy.address],
            retry: RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(50)),
            configCache: configCache,
            monolithicUploadLimit: monolithicUploadLimit))
    }

    /// Pushes `names` to the source under `prefix/NAME:1`, each with two layers they all share,
    /// one of its own and a config of its own.
    func pushImages(_ prefix: String, _ names: [String], layerSize: Int = 32 * 1024) async throws
        -> [TestImages.Pushed]
    {
        let client = makeClient()
        let shared = [TestImages.layer(seed: "\(prefix)-base-1", size: layerSize),
                      TestImages.layer(seed: "\(prefix)-base-2", size: layerSize)]
        var pushed: [TestImages.Pushed] = []
        for name in names {
            pushed.append(try await TestImages.push(
                client, to: try Reference("\(source.address)/\(prefix)/\(name):1"),
                layers: shared + [TestImages.layer(seed: "\(prefix)-\(name)", size: layerSize)], labels: ["name": name]))
        }
        return pushed
    }

    /// `METHOD PATH` with the upload session's id and state left out, and only the query's
    /// `mount`/`from`/`digest` kept: comparable between runs.
    static func shape(_ request: String) -> String {
        let parts = request.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, var components = URLComponents(string: String(parts[1])) else { return request }
        if let range = components.path.range(of: "/blobs/uploads/") {
            components.path = String(components.path[..<range.upperBound]) + (components.path.hasSuffix("/blobs/uploads/") ? "" : "SESSION")
        }
        let kept = (components.queryItems ?? []).filter { ["mount", "from", "digest"].contains($0.name) }
        components.queryItems = kept.isEmpty ? nil : kept
        return "\(parts[0]) \(components.string ?? components.path)"
    }

    func testCopyMountsWithoutHEADAndUploadsSmallBlobsInOnePUT() async throws {
        let images = try await pushImages("flow", ["api", "worker", "engine"])
        let copier = ImageCopier(client: makeClient())
        let base1 = images[0].manifest.layers[0].digest.description
        let base2 = images[0].manifest.layers[1].digest.description

        var before = destination.requests().count
        let first = try await copier.copy(from: images[0].reference, to: try Reference("\(destination.address)/flow/api:1"))
        XCTAssertEqual(first.blobsCopied, 4)
        let own = images[0].manifest.layers[2].digest.description
        let config = images[0].manifest.config.digest.description
        // A new client pings the registry once (GET /v2/).
        var requests = try await destination.requests(after: before).map(Self.shape)
        XCTAssertEqual(requests.filter { $0 == "GET /v2/" }.count, 1, "\(requests)")
        requests.removeAll { $0 == "GET /v2/" }
        // One request per blob to ask and open a session (a mount from the repository itself
        // answers 202 when the blob is not there), one PUT with the bytes; no HEAD, no PATCH.
        XCTAssertEqual(requests.sorted(), [
            "HEAD /v2/flow/api/manifests/1",
            "POST /v2/flow/api/blobs/uploads/?mount=\(base1)&from=flow/api",
            "POST /v2/flow/api/blobs/uploads/?mount=\(base2)&from=flow/api",
            "POST /v2/flow/api/blobs/uploads/?mount=\(config)&from=flow/api",
            "POST /v2/flow/api/blobs/uploads/?mount=\(own)&from=flow/api",
            "PUT /v2/flow/api/blobs/uploads/SESSION?digest=\(base1)",
            "PUT /v2/flow/api/blobs/uploads/SESSION?digest=\(base2)",
            "PUT /v2/flow/api/blobs/uploads/SESSION?digest=\(config)",
            "PUT /v2/flow/api/blobs/uploads/SESSION?digest=\(own)",
            "PUT /v2/flow/api/manifests/1",
        ].sorted())

        // The next images mount the shared layers from the first repository at once: one
        // request each, answered 201.
        before = destination.requests().count
        for image in images.dropFirst() {
            let name = image.reference.repository.split(separator: "/").last!
            let report = try await copier.copy(from: image.reference, to: try Reference("\(destination.address)/flow/\(name):1"))
            XCTAssertEqual(report.blobsMounted, 2, "\(report)")
            XCTAssertEqual(report.blobsCopied, 2, "\(report)")
        }
        requests = try await destination.requests(after: before).map(Self.shape)
        XCTAssertEqual(requests.count, 2 * 8, "\(requests)")
        XCTAssertEqual(requests.filter { $0.contains("from=flow/api") }.count, 4, "\(requests)")
        XCTAssertFalse(requests.contains { $0.hasPrefix("HEAD ") && $0.contains("/blobs/") }, "\(requests)")
        XCTAssertFalse(requests.contains { $0.hasPrefix("PATCH ") }, "\(requests)")
        // No blob crossed twice in the run.
        let uploads = try await destination.requests(after: 0).map(Self.shape).filter { $0.hasPrefix("PUT ") && $0.contains("digest=") }
        XCTAssertEqual(Set(uploads.filter { $0.contains("/flow/") }).count, uploads.filter { $0.contains("/flow/") }.count, "\(uploads)")
        XCTAssertFalse(uploads.contains { $0.contains(base1) && !$0.contains("/flow/api/") }, "\(uploads)")
    }

    func testBlobKnownPresentIsNotAskedAgainInTheRun() async throws {
        let images = try await pushImages("known", ["api"])
        let client = makeClient()
        let copier = ImageCopier(client: client)
        let target = try Reference("\(destination.address)/known/api:1")
        _ = try await copier.copy(from: images[0].reference, to: target)

        // The same image under another tag of the same repository: every blob is known to be
        // there, so only the manifest is asked for and put.
        var before = destination.requests().count
        let again = try await copier.copy(from: images[0].reference, to: target.withTag("2"))
        XCTAssertEqual(again.outcome, .copied)
        XCTAssertEqual(again.blobsPresent, 4)
        var requests = try await destination.requests(after: before)
        XCTAssertEqual(requests, ["HEAD /v2/known/api/manifests/2", "PUT /v2/known/api/manifests/2"])

        // A new run knows nothing yet: one mount request per blob finds each there (201),
        // and nothing is uploaded.
        before = destination.requests().count
        let fresh = try await ImageCopier(client: makeClient()).copy(from: images[0].reference, to: target.withTag("3"))
        XCTAssertEqual(fresh.blobsPresent, 4)
        XCTAssertEqual(fresh.bytesCopied, 0)
        requests = try await destination.requests(after: before).map(Self.shape).filter { $0 != "GET /v2/" }
        XCTAssertEqual(requests.filter { $0.hasPrefix("POST ") && $0.contains("mount=") }.count, 4, "\(requests)")
        XCTAssertEqual(requests.count, 6, "\(requests)")
    }

    func testBlobAboveTheLimitIsStreamedWithPATCH() async throws {
        let images = try await pushImages("chunked", ["api"], layerSize: 64 * 1024)
        let client = makeClient(monolithicUploadLimit: 16 * 1024)
        let before = destination.requests().count
        let report = try await ImageCopier(client: client).copy(
            from: images[0].reference, to: try Reference("\(destination.address)/chunked/api:1"))
        XCTAssertEqual(report.blobsCopied, 4)
        let requests = try await destination.requests(after: before).map(Self.shape)
        // Three 64 KiB layers: PATCH with the bytes, then an empty PUT; the small config: one PUT.
        XCTAssertEqual(requests.filter { $0.hasPrefix("PATCH ") }.count, 3, "\(requests)")
        XCTAssertEqual(requests.filter { $0.hasPrefix("PUT ") && $0.contains("digest=") }.count, 4, "\(requests)")
        let copied = try await client.fetchManifest(try Reference("\(destination.address)/chunked/api:1"))
        XCTAssertEqual(copied.digest, images[0].digest)
        for layer in images[0].manifest.layers {
            let size = try await client.headBlob(try Reference("\(destination.address)/chunked/api"), digest: layer.digest)
            XCTAssertEqual(size, layer.size)
        }
    }

    func testConnectionsAreReusedAcrossRequests() async throws {
        let names = (1...8).map { "service-\($0)" }
        let images = try await pushImages("keepalive", names)
        let client = makeClient()
        let copier = ImageCopier(client: client)
        let connectionsBefore = proxy.connections().count
        let requestsBefore = proxy.requests().count
        let address = proxy.address
        try await withThrowingTaskGroup(of: Void.self) { group in
            for image in images {
                let name = image.reference.repository.split(separator: "/").last!
                group.addTask {
                    _ = try await copier.copy(from: image.reference, to: try Reference("\(address)/keepalive/\(name):1"))
                }
            }
            try await group.waitForAll()
        }
        let connections = proxy.connections().count - connectionsBefore
        let requests = proxy.requests().count - requestsBefore
        // 8 images × (manifest HEAD, 4 blobs, manifest PUT) and more, on about as many
        // connections as requests run at once (8) plus the endpoint ping's: without
        // keep-alive there would be one per request.
        XCTAssertGreaterThanOrEqual(requests, 8 * 6)
        XCTAssertGreaterThan(connections, 0)
        XCTAssertLessThanOrEqual(connections, 12, "\(connections) connections for \(requests) requests")
        XCTAssertLessThanOrEqual(connections * 4, requests, "\(connections) connections for \(requests) requests")
    }

    func testCopyGivenAnAbsentLookupDoesNotAskAgain() async throws {
        let images = try await pushImages("lookup", ["api"])
        let copier = ImageCopier(client: makeClient())
        let target = try Reference("\(destination.address)/lookup/api:1")
        _ = try await copier.destinationManifest(try Reference("\(destination.address)/lookup/warmup:1"))
        let before = destination.requests().count
        let present = try await copier.destinationManifest(target)
        XCTAssertNil(present)
        let report = try await copier.copy(from: images[0].reference, to: target, destinationTag: .absent)
        XCTAssertEqual(report.outcome, .copied)
        var requests = try await destination.requests(after: before)
        XCTAssertEqual(requests.filter { $0 == "HEAD /v2/lookup/api/manifests/1" }.count, 1, "\(requests)")

        // Not told: asked, present now, and skipped.
        let again = try await copier.copy(from: images[0].reference, to: target)
        XCTAssertEqual(again.outcome, .skipped)
        requests = try await destination.requests(after: before)
        XCTAssertEqual(requests.filter { $0 == "HEAD /v2/lookup/api/manifests/1" }.count, 2, "\(requests)")
    }

    func testCopyAfterDiscoveryFetchesNeitherManifestNorConfigAgain() async throws {
        let images = try await pushImages("discovered", ["api"])
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-flow-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let client = makeClient(configCache: ConfigBlobCache(directory: cache))
        // Tag discovery: the manifest by tag, the config for its labels.
        let resolved = try await client.resolveImage(images[0].reference)
        let config = try await client.fetchImageConfig(of: resolved, in: images[0].reference)
        XCTAssertEqual(config.labels["name"], "api")

        let before = source.requests().count
        let report = try await ImageCopier(client: client).copy(
            from: images[0].reference.withDigest(resolved.raw.digest), to: try Reference("\(destination.address)/discovered/api:1"))
        XCTAssertEqual(report.blobsCopied, 4)
        XCTAssertEqual(report.bytesCopied, images[0].manifest.blobs.map(\.size).reduce(0, +))
        // The copy of the image the labels were read from only downloads its layers.
        let requests = try await source.requests(after: before)
        XCTAssertEqual(requests.sorted(), images[0].manifest.layers.map { "GET /v2/discovered/api/blobs/\($0.digest)" }.sorted())
        let copied = try await client.fetchManifest(try Reference("\(destination.address)/discovered/api:1"))
        XCTAssertEqual(copied.digest, images[0].digest)
        let configSize = try await client.headBlob(try Reference("\(destination.address)/discovered/api"),
                                                   digest: images[0].manifest.config.digest)
        XCTAssertEqual(configSize, images[0].manifest.config.size)
    }
}
