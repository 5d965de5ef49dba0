import Foundation
import ImagePrepTestSupport
import XCTest

/// What the optimized build needs that the debug build does not show.
final class ReleaseBuildTests: XCTestCase {
    /// The toolchain's -O miscompiles a closure-typed `@TaskLocal` (the reduction in
    /// `Tests/Fixtures/tasklocal-closure.swift`, which crashed the shipped binary on its first
    /// copy). Where the reduction still crashes, no `@TaskLocal` in `Sources/` may hold a
    /// function type: progress and the like are passed as values.
    func testNoClosureTypedTaskLocalWhereTheToolchainMiscompilesThem() throws {
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let swiftc = ["/opt/swift/usr/bin/swiftc", "/usr/bin/swiftc"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let swiftc else { throw XCTSkip("no swiftc to build the reduction with") }
        let binary = work.appendingPathComponent("reduction")
        let build = try CLI.runProcess(
            URL(fileURLWithPath: swiftc),
            ["-parse-as-library", "-O", CLI.fixture("tasklocal-closure.swift"), "-o", binary.path], in: work)
        XCTAssertEqual(build.status, 0, build.stderr)
        let run = try CLI.runProcess(binary, [], environment: ["SWIFT_BACKTRACE": "enable=no"])
        let miscompiled = run.status != 0
        if !miscompiled { XCTAssertEqual(run.stdout, "ok 1\n") }

        var offenders: [String] = []
        let sources = CLI.packageRoot.appendingPathComponent("Sources")
        for case let file as URL in FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)!
        where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.contains("@TaskLocal") && line.contains("->") {
                offenders.append("\(file.path.dropFirst(sources.path.count + 1)):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        if miscompiled {
            XCTAssertEqual(offenders, [], "this toolchain's -O crashes on these (exit \(run.status))")
        }
    }
}
