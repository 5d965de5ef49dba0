import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// Two plain-HTTP registries (source and destination) shared by every test of the class.
final class PlainRegistryTests: XCTestCase {
    nonisolated(unsafe) static var source: RegistryServer!
    nonisolated(unsafe) static var destination: RegistryServer!

    override class func setUp() {
        super.setUp()
        do {
            source = try RegistryServer()
            destination = try RegistryServer()
        } catch {
            fatalError("cannot start docker-registry: \(error)")
        }
    }

    override class func tearDown() {
        source?.stop()
        destination?.stop()
        super.tearDown()
    }

    var source: RegistryServer { Self.source }
    var destination: RegistryServer { Self.destination }

    func makeClient() -> RegistryClient {
        RegistryClient(configuration: .init(
            insecureRegistries: [source.address, destination.address],
            retry: RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(50))))
    }

    func ref(_ server: RegistryServer, _ path: String) throws -> Reference {
        try Reference("\(server.address)/\(path)")
    }

    func testConfigCacheServesKnownDigestsAndDropsDamagedEntries() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-config-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = RegistryClient.Configuration(insecureRegistries: [source.address])
        configuration.configCache = ConfigBlobCache(directory: directory)
        let client = RegistryClient(configuration: configuration)
        let reference = try ref(source, "cached/app:1.0")
        let pushed = try await TestImages.push(
            client, to: reference, layers: [TestImages.layer(seed: "cached", size: 1024)], labels: ["rdo_version": "7"])
        let configDigest = pushed.manifest.config.digest
        let blobGET = "GET /v2/cached/app/blobs/\(configDigest)"
        func configFetches() async throws -> Int { try await source.requests(after: 0).filter { $0 == blobGET }.count }

        let resolved = try await client.resolveImage(reference)
        let first = try await client.fetchImageConfig(of: resolved, in: reference)
        XCTAssertEqual(first.labels, ["rdo_version": "7"])
        let fetchedOnce = try await configFetches()
        XCTAssertEqual(fetchedOnce, 1)
        let entry = directory.appendingPathComponent("configs/sha256/\(configDigest.encoded)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: entry.path))

        // A second client (a re-run) reads the labels from the cache.
        let rerun = RegistryClient(configuration: configuration)
        let again = try await rerun.fetchImageConfig(of: try await rerun.resolveImage(reference), in: reference)
        XCTAssertEqual(again.labels, ["rdo_version": "7"])
        let stillOnce = try await configFetches()
        XCTAssertEqual(stillOnce, 1, "a cached config is not fetched again")

        // An entry that no longer matches its digest is dropped and fetched again.
        try Data(#"{"config":{"Labels":{"rdo_version":"forged"}}}"#.utf8).write(to: entry)
        let repaired = try await rerun.fetchImageConfig(of: resolved, in: reference)
        XCTAssertEqual(repaired.labels, ["rdo_version": "7"])
        let fetchedTwice = try await configFetches()
        XCTAssertEqual(fetchedTwice, 2)
        XCTAssertEqual(Digest(of: try Data(contentsOf: entry)), configDigest)

        XCTAssertEqual(
            ConfigBlobCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "/var/cache/x", "HOME": "/root"]).path,
            "/var/cache/x/imageprep")
        XCTAssertEqual(ConfigBlobCache.defaultDirectory(environment: ["HOME": "/home/op"]).path, "/home/op/.cache/imageprep")
    }

    func testPushFetchListAndDelete() async throws {
        let client = makeClient()
        let reference = try ref(source, "roundtrip/app:1.0")
        let layer = TestImages.layer(seed: "roundtrip", size: 300 * 1024)
        let pushed = try await TestImages.push(client, to: reference, layers: [layer], labels: ["a": "b"])

        let fetched = try await client.fetchManifest(reference)
        XCTAssertEqual(fetched.digest, pushed.digest)
        XCTAssertEqual(fetched.mediaType, .dockerManifest)
        let head = try await client.headManifest(reference)
        XCTAssertEqual(head?.digest, pushed.digest)
        let byDigest = try await client.fetchManifest(reference.withDigest(pushed.digest))
        XCTAssertEqual(byDigest.bytes, fetched.bytes)

        let config = try await client.fetchImageConfig(reference)
        XCTAssertEqual(config.labels, ["a": "b"])
        XCTAssertEqual(config.architecture, "amd64")
        XCTAssertEqual(config.user, "root")

        let layerDescriptor = pushed.manifest.layers[0]
        let size = try await client.headBlob(reference, digest: layerDescriptor.digest)
        XCTAssertEqual(size, Int64(layer.count))
        let missing = try await client.headBlob(reference, digest: Digest(of: Data("nope".utf8)))
        XCTAssertNil(missing)

        let chunks = ChunkCollector()
        let streamed = try await client.fetchBlob(reference, descriptor: layerDescriptor) { chunks.append($0) }
        XCTAssertEqual(streamed, Int64(layer.count))
        XCTAssertEqual(chunks.data, layer)
        XCTAssertGreaterThan(chunks.count, 1, "the blob should arrive in several chunks")

        try await client.pushManifest(fetched.bytes, mediaType: fetched.mediaType, to: reference.withTag("1.1"))
        let tags = try await client.listTags(reference, pageSize: 1)
        XCTAssertEqual(Set(tags), ["1.0", "1.1"])
        let repositories = try await client.listRepositories(registry: source.address, pageSize: 1)
        XCTAssertTrue(repositories.contains("roundtrip/app"))

        try await client.deleteManifest(reference.withDigest(pushed.digest))
        let afterDelete = try await client.headManifest(reference)
        XCTAssertNil(afterDelete)
        do {
            _ = try await client.fetchManifest(reference)
            XCTFail("expected not found")
        } catch let error as RegistryError {
            guard case .notFound(let context, _) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(context.registry, source.address)
            XCTAssertTrue(error.description.contains("roundtrip/app:1.0"), error.description)
        }
        let insecure = await client.insecurelyReachedRegistries()
        XCTAssertEqual(insecure, [source.address])
    }
}

final class ChunkCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var storage = Data()
    private var chunks = 0

    func append(_ bytes: UnsafeRawBufferPointer) {
        lock.lock()
        storage.append(contentsOf: bytes)
        chunks += 1
        lock.unlock()
    }

    var data: Data { lock.lock(); defer { lock.unlock() }; return storage }
    var count: Int { lock.lock(); defer { lock.unlock() }; return chunks }
}
