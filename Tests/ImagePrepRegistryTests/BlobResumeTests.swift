import Foundation
import ImagePrepOCI
@testable import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// A 64 MiB layer whose download the fault proxy cuts (a TCP reset at a chosen byte of the
/// blob) on its way from a real `docker-registry` to another one or to apache2 image-serve:
/// the copy continues with `Range: bytes=N-` into the same upload or file, falls back to the
/// whole blob when the source will not serve the range, and never splices a changed blob.
final class BlobResumeTests: XCTestCase {
    nonisolated(unsafe) static var source: RegistryServer!
    nonisolated(unsafe) static var proxy: FaultProxy!
    nonisolated(unsafe) static var destination: RegistryServer!
    nonisolated(unsafe) static var imageServe: ImageServeServer!

    static let size = 64 * 1024 * 1024

    override class func setUp() {
        super.setUp()
        do {
            source = try RegistryServer()
            proxy = try FaultProxy(upstream: source.address)
            destination = try RegistryServer()
            imageServe = try ImageServeServer()
        } catch {
            fatalError("cannot start docker-registry, the fault proxy and apache2: \(error)")
        }
    }

    override class func tearDown() {
        imageServe?.stop()
        destination?.stop()
        proxy?.stop()
        source?.stop()
        super.tearDown()
    }

    var proxy: FaultProxy { Self.proxy }

    func client(maxAttempts: Int = 5) -> RegistryClient {
        RegistryClient(configuration: .init(
            insecureRegistries: [Self.source.address, proxy.address, Self.destination.address, Self.imageServe.address],
            retry: RetryPolicy(maxAttempts: maxAttempts, initialDelay: .milliseconds(50), maxDelay: .milliseconds(200)),
            timeouts: TransferTimeouts(stall: .seconds(5), connect: .seconds(2))))
    }

    /// 64 MiB of random bytes (random, so no layer of another test is the same blob).
    static func randomLayer() -> Data {
        var generator = SystemRandomNumberGenerator()
        var data = Data(count: size)
        data.withUnsafeMutableBytes { buffer in
            for index in 0..<(size / 8) {
                buffer.storeBytes(of: generator.next() as UInt64, toByteOffset: index * 8, as: UInt64.self)
            }
        }
        return data
    }

    /// An image of one 64 MiB layer in the source registry: its layer and the `GET` of it as
    /// the proxy logs it.
    func pushLayer(_ repository: String) async throws -> (pushed: TestImages.Pushed, layer: Descriptor, get: String) {
        let pushed = try await TestImages.push(client(), to: try Reference("\(Self.source.address)/\(repository):1"),
                                               layers: [Self.randomLayer()])
        let layer = pushed.manifest.layers[0]
        return (pushed, layer, "GET /v2/\(repository)/blobs/\(layer.digest)")
    }

    /// How the proxy answered the requests starting with `prefix` since line `count`.
    func outcomes(_ prefix: String, after count: Int) -> [String] {
        proxy.requests().dropFirst(count).filter { $0.hasPrefix(prefix) }.map {
            $0.split(separator: " ").suffix(2).joined(separator: " ")
        }
    }

    /// The `Range` and `If-Range` the requests starting with `prefix` carried, since line `count`.
    func ranges(_ prefix: String, after count: Int) -> [String] {
        proxy.rangeLog().dropFirst(count).filter { $0.hasPrefix(prefix) }.map {
            $0.split(separator: " ").suffix(2).joined(separator: " ")
        }
    }

    func copy(_ repository: String, to destination: String, with client: RegistryClient,
              router: DestinationRouter? = nil) async throws -> ImageCopyReport
    {
        try await ImageCopier(client: client, destinations: router).copy(
            from: try Reference("\(proxy.address)/\(repository):1"), to: try Reference("\(destination)/\(repository):1"))
    }

    /// The destination's tag names the image and its layer is there whole: read back and
    /// checked against its digest.
    func assertCopied(_ pushed: TestImages.Pushed, at destination: String, file: StaticString = #filePath,
                      line: UInt = #line) async throws
    {
        let reference = try Reference("\(destination)/\(pushed.reference.repository):1")
        let client = client()
        let tagged = try await client.fetchManifest(reference)
        XCTAssertEqual(tagged.digest, pushed.digest, file: file, line: line)
        let read = try await client.fetchBlob(reference, descriptor: pushed.manifest.layers[0]) { _ in }
        XCTAssertEqual(read, Int64(Self.size), file: file, line: line)
    }

    func testLayerCutAtTenFiftyAndNinetyPercentIsResumedIntoTheSameUpload() async throws {
        let (pushed, layer, get) = try await pushLayer("resume/cuts")
        let cuts = [Self.size / 10, Self.size / 2, Self.size / 10 * 9]
        try proxy.setRules(cuts.map { .init(match: "^\(get)", action: .cut, times: 1, bytes: $0) })
        let (requestsBefore, rangesBefore, bytesBefore) = (proxy.requests().count, proxy.rangeLog().count, proxy.bytesSent(get))
        let destinationBefore = Self.destination.requests().count

        let report = try await copy("resume/cuts", to: Self.destination.address, with: client())

        XCTAssertEqual(report.digest, pushed.digest)
        XCTAssertEqual(report.bytesCopied, Int64(Self.size) + pushed.manifest.config.size, "the layer and the config, each once")
        XCTAssertEqual(outcomes(get, after: requestsBefore), ["200 cut", "206 cut", "206 cut", "206 forwarded"])
        let etag = "\"\(layer.digest)\""
        XCTAssertEqual(ranges(get, after: rangesBefore),
                       ["Range=- If-Range=-"] + cuts.map { "Range=bytes=\($0)- If-Range=\(etag)" },
                       "each attempt continues at the byte the cut stopped at, guarded by the blob's ETag")
        let fetched = proxy.bytesSent(get) - bytesBefore
        XCTAssertGreaterThanOrEqual(fetched, Self.size)
        XCTAssertLessThanOrEqual(Double(fetched), 1.1 * Double(Self.size), "\(fetched) bytes fetched for a \(Self.size)-byte blob")
        print("resume: 3 cuts of a \(Self.size)-byte layer, \(fetched) bytes fetched from the source "
              + "(\(String(format: "%.3f", Double(fetched) / Double(Self.size)))x)")
        // The layer went in one PATCH (the config, under 8 MiB, in a PUT) and no session was
        // cancelled: the upload was never started again.
        let uploads = try await Self.destination.requests(after: destinationBefore).filter { $0.contains("/blobs/uploads/") }
        XCTAssertEqual(uploads.filter { $0.hasPrefix("PATCH") }.count, 1, "\(uploads)")
        XCTAssertEqual(uploads.filter { $0.hasPrefix("DELETE") }.count, 0, "\(uploads)")
        try await assertCopied(pushed, at: Self.destination.address)
    }

    func testLayerCutHalfWayIsResumedIntoTheSameImageServeFile() async throws {
        let (pushed, layer, get) = try await pushLayer("resume/served")
        try proxy.setRules([.init(match: "^\(get)", action: .cut, times: 1, bytes: Self.size / 2)])
        let (requestsBefore, bytesBefore) = (proxy.requests().count, proxy.bytesSent(get))
        let client = client()
        let router = DestinationRouter(client: client, imageServeDirectory: Self.imageServe.root)

        let report = try await copy("resume/served", to: Self.imageServe.address, with: client, router: router)

        XCTAssertEqual(report.digest, pushed.digest)
        let isImageServe = await router.isImageServe(Self.imageServe.address)
        XCTAssertTrue(isImageServe)
        XCTAssertEqual(outcomes(get, after: requestsBefore), ["200 cut", "206 forwarded"])
        let fetched = proxy.bytesSent(get) - bytesBefore
        XCTAssertEqual(fetched, Self.size, "the second half only, after the first")
        let served = Self.imageServe.root.appendingPathComponent("v2/resume/served/blobs/\(layer.digest).gz")
        XCTAssertEqual(try Digest(of: Data(contentsOf: served)), layer.digest)
        try await assertCopied(pushed, at: Self.imageServe.address)
    }

    func testSourceThatDoesNotServeTheRangeIsFetchedAgainWhole() async throws {
        let (pushed, _, get) = try await pushLayer("resume/norange")
        try proxy.setRules([
            .init(match: "^\(get)", action: .cut, times: 1, bytes: Self.size / 2),
            .init(match: "^\(get)", action: .norange, times: -1),
        ])
        let (requestsBefore, rangesBefore) = (proxy.requests().count, proxy.rangeLog().count)

        let report = try await copy("resume/norange", to: Self.destination.address, with: client())

        XCTAssertEqual(report.digest, pushed.digest)
        // The range asked for is answered 200 with the whole blob: refused before a byte of
        // it is written, and the transfer starts again from byte 0.
        XCTAssertEqual(outcomes(get, after: requestsBefore), ["200 cut", "200 norange", "200 norange"])
        let asked = ranges(get, after: rangesBefore).map { $0.split(separator: " ")[0] }
        XCTAssertEqual(asked, ["Range=-", "Range=bytes=\(Self.size / 2)-", "Range=-"])
        try await assertCopied(pushed, at: Self.destination.address)
    }

    func testBlobThatChangedBehindItsETagIsFetchedAgainNotSpliced() async throws {
        let (pushed, layer, get) = try await pushLayer("resume/changed")
        try proxy.setRules([
            .init(match: "^\(get)", action: .cut, times: 1, bytes: Self.size / 2),
            .init(match: "^\(get)", action: .changed, times: 1),
        ])
        let (requestsBefore, rangesBefore) = (proxy.requests().count, proxy.rangeLog().count)

        let report = try await copy("resume/changed", to: Self.destination.address, with: client())

        XCTAssertEqual(report.digest, pushed.digest)
        // If-Range names the first answer's ETag; the changed blob comes whole (200) under
        // another, is refused, and the next attempt reads the blob from its first byte.
        XCTAssertEqual(outcomes(get, after: requestsBefore), ["200 cut", "200 changed", "200 forwarded"])
        XCTAssertEqual(ranges(get, after: rangesBefore),
                       ["Range=- If-Range=-", "Range=bytes=\(Self.size / 2)- If-Range=\"\(layer.digest)\"", "Range=- If-Range=-"])
        try await assertCopied(pushed, at: Self.destination.address)
    }

    func testRangeOfOtherBytesUnderTheSameETagFailsTheDigestCheckAndNothingIsCommitted() async throws {
        let (_, layer, get) = try await pushLayer("resume/mutated")
        try proxy.setRules([
            .init(match: "^\(get)", action: .cut, times: 1, bytes: Self.size / 2),
            .init(match: "^\(get)", action: .mutate, times: -1),
        ])
        let requestsBefore = proxy.requests().count

        do {
            _ = try await copy("resume/mutated", to: Self.destination.address, with: client())
            XCTFail("a blob spliced from other bytes was accepted")
        } catch let error as RegistryError {
            guard case .digestMismatch(_, let expected, _) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(expected, layer.digest)
            XCTAssertTrue(error.description.contains("resume/mutated@\(layer.digest)"), error.description)
        }
        XCTAssertEqual(outcomes(get, after: requestsBefore), ["200 cut", "206 mutate"])
        let target = try Reference("\(Self.destination.address)/resume/mutated:1")
        let blob = try await client().headBlob(target, digest: layer.digest)
        XCTAssertNil(blob, "the spliced blob must not be committed")
        let tagged = try await client().headManifest(target)
        XCTAssertNil(tagged)
    }

    func testResumesCountAgainstTheTransfersAttempts() async throws {
        let (_, _, get) = try await pushLayer("resume/budget")
        // Every attempt is cut 1 MiB further on: three attempts allowed in all.
        try proxy.setRules((1...6).map { .init(match: "^\(get)", action: .cut, times: 1, bytes: $0 * 1024 * 1024) })
        let requestsBefore = proxy.requests().count

        do {
            _ = try await copy("resume/budget", to: Self.destination.address, with: client(maxAttempts: 3))
            XCTFail("a source that cuts every attempt cannot be copied")
        } catch let error as RegistryError {
            guard case .connection = error else { return XCTFail("unexpected \(error)") }
        }
        XCTAssertEqual(outcomes(get, after: requestsBefore), ["200 cut", "206 cut", "206 cut"],
                       "a resume is one of the policy's attempts, not a loop of its own")
    }
}

/// `Content-Range` from a hostile source: parsed or refused, never a trap.
final class ContentRangeTests: XCTestCase {
    func testWellFormedRangeIsParsedAndContinuesOnlyAtItsOffset() throws {
        let range = try XCTUnwrap(ContentRange("bytes 6710886-67108863/67108864"))
        XCTAssertEqual(range, ContentRange(first: 6_710_886, last: 67_108_863, total: 67_108_864))
        XCTAssertTrue(range.continues(at: 6_710_886, size: 67_108_864))
        XCTAssertFalse(range.continues(at: 6_710_885, size: 67_108_864))
        XCTAssertNotNil(ContentRange(" Bytes 0-0/1\r\n"), "unit case and HTTP whitespace as RFC 9110 allows")
    }

    func testHostileValuesAreRefusedWithoutTrapping() {
        let hostile = [
            "", "bytes", "bytes ", "bytes 0-1", "bytes */100", "bytes 0-1/*", "items 0-1/2", "bytes\t0-1/2",
            "bytes -5-10/20", "bytes 5--10/20", "bytes 5-10/-20", "bytes +5-10/20", "bytes 5-+10/20",
            "bytes 10-5/20", "bytes 5-20/20", "bytes 5-10/10",
            "bytes 0-99999999999999999999/100", "bytes 99999999999999999999-1/2", "bytes 0-1/99999999999999999999",
            "bytes 0-9223372036854775807/9223372036854775807", "bytes 9223372036854775808-1/2",
            "bytes ５-10/20", "bytes 0-1/2, 3-4/5", "bytes 0x10-20/30", "bytes 1 - 2/3", "bytes 1-2/3/4",
            "\u{0}ytes 0-1/2", "bytes\u{0}0-1/2",
        ]
        for header in hostile {
            XCTAssertNil(ContentRange(header), header)
        }
    }

    func testExtremeButValidRangeComparesWithoutOverflow() throws {
        let range = try XCTUnwrap(ContentRange("bytes 9223372036854775806-9223372036854775806/9223372036854775807"))
        XCTAssertTrue(range.continues(at: Int64.max - 1, size: Int64.max))
        XCTAssertFalse(range.continues(at: Int64.max - 1, size: Int64.min), "a mismatched total is refused")
        XCTAssertFalse(range.continues(at: Int64.max - 1, size: 0))
        XCTAssertFalse(try XCTUnwrap(ContentRange("bytes 10-99/200")).continues(at: 10, size: 100), "mismatched total")
    }
}
