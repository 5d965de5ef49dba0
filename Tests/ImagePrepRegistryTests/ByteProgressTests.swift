import ImagePrepConcurrency
import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import XCTest

extension PlainRegistryTests {
    /// `copy(from:to:progress:)` reports the bytes of the blobs it streams as they arrive,
    /// adding up to the report's `bytesCopied`; a blob mounted instead is counted in
    /// `bytesNotCopied` and reported to no one.
    func testCopyReportsStreamedBytesAndWhatItDidNotCopy() async throws {
        let client = makeClient()
        let base = TestImages.layer(seed: "progress-base", size: 300 * 1024)
        let first = try await TestImages.push(
            client, to: try ref(source, "progress/one:1"), layers: [base, TestImages.layer(seed: "progress-one", size: 700 * 1024)])
        let second = try await TestImages.push(
            client, to: try ref(source, "progress/two:1"), layers: [base, TestImages.layer(seed: "progress-two", size: 100 * 1024)])

        let copier = ImageCopier(client: client)
        let streamed = Locked<[Int]>([])
        let one = try await copier.copy(from: first.reference, to: try ref(destination, "progress/one:1")) { count in
            streamed.withLock { $0.append(count) }
        }
        let chunks = streamed.withLock { $0 }
        XCTAssertGreaterThan(chunks.count, 3, "bytes arrive in pieces, not once per blob")
        XCTAssertEqual(Int64(chunks.reduce(0, +)), one.bytesCopied)
        XCTAssertEqual(one.bytesCopied, first.manifest.blobs.reduce(0) { $0 + $1.size })
        XCTAssertEqual(one.bytesNotCopied, 0)

        // What the second image shares with the first (the base layer, and the config when the
        // two are equal) is mounted from the first's repository: not streamed.
        let firstDigests = Set(first.manifest.blobs.map(\.digest))
        let shared = second.manifest.blobs.filter { firstDigests.contains($0.digest) }
        XCTAssertTrue(shared.contains { $0.size == Int64(base.count) }, "the base layer is shared")
        let total = Locked(0)
        let two = try await copier.copy(from: second.reference, to: try ref(destination, "progress/two:1")) { count in
            total.withLock { $0 += count }
        }
        XCTAssertEqual(two.blobsMounted, shared.count)
        XCTAssertEqual(two.bytesNotCopied, shared.reduce(0) { $0 + $1.size })
        XCTAssertEqual(Int64(total.withLock { $0 }), two.bytesCopied)
        XCTAssertEqual(two.bytesCopied, second.manifest.blobs.reduce(0) { $0 + $1.size } - two.bytesNotCopied)
    }
}
