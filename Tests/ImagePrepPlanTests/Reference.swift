import Foundation
import XCTest

/// The upstream TripleO files under `../shared/reference/upstream` beside the
/// package (or `$IMAGEPREP_REFERENCE_DIR`), read at test time; they are not
/// part of the project. Required in CI; elsewhere a test that needs them is
/// skipped with a note when they are absent.
enum Reference {
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var upstreamDirectory: String {
        if let dir = ProcessInfo.processInfo.environment["IMAGEPREP_REFERENCE_DIR"] { return dir }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/upstream").path
    }

    static func path(_ name: String) throws -> String {
        let path = upstreamDirectory + "/" + name
        if !FileManager.default.fileExists(atPath: path) {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                XCTFail("upstream reference file \(path) is missing")
            }
            throw XCTSkip("upstream reference file \(path) is not here")
        }
        return path
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOfFile: try path(name), encoding: .utf8)
    }

    static func fixture(_ name: String) -> String {
        packageRoot.appendingPathComponent("Tests/Fixtures/\(name)").path
    }
}
