import Foundation
import ImagePrepTestSupport
import XCTest

@testable import ImagePrep

/// `--build-concurrency`: its default sized as tripleo-common sizes its uploads, bounded by
/// memory, and its bounds.
final class BuildConcurrencyTests: XCTestCase {
    func testDefaultIsUpstreamsSizingBoundedByMemory() {
        let gib: UInt64 = 1 << 30
        XCTAssertEqual(ModificationOptions.defaultBuildConcurrency(cores: 2, availableMemory: 8 * gib), 2)
        XCTAssertEqual(ModificationOptions.defaultBuildConcurrency(cores: 12, availableMemory: 64 * gib), 6)
        XCTAssertEqual(ModificationOptions.defaultBuildConcurrency(cores: 64, availableMemory: 64 * gib), 8)
        XCTAssertEqual(ModificationOptions.defaultBuildConcurrency(cores: 32, availableMemory: 3 * gib + 5), 3)
        XCTAssertEqual(ModificationOptions.defaultBuildConcurrency(cores: 8, availableMemory: gib / 2), 1)
        XCTAssertEqual(ModificationOptions.defaultBuildConcurrency(cores: 8, availableMemory: nil), 4)
        XCTAssertNotNil(ModificationOptions.availableMemory())
    }

    func testOutOfRangeIsRefusedInOneLine() throws {
        for value in ["0", "65"] {
            let run = try CLI.run(["prepare", "-e", "/nonexistent.yaml", "--build-concurrency", value, "--dry-run"])
            XCTAssertEqual(run.status, 2, run.stderr)
            XCTAssertTrue(run.stderr.contains("--build-concurrency expects a number from 1 to 64, got \(value)"), run.stderr)
        }
    }
}
