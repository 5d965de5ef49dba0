import Foundation
import ImagePrepTestSupport
import XCTest

/// The flags whose value is appended to a tag (`image copy --append-tag`, `modify
/// --append-tag`, `hotfix apply --tag`) take the OCI tag grammar's suffixes: anything else is
/// one usage line naming the flag and what it expects, before any registry is asked (the
/// registries named here do not exist).
final class TagSuffixFlagTests: XCTestCase {
    static let expected = "expected letters, digits, '_', '.', '-', at most 128"

    func testAppendTagsOutsideTheTagGrammarAreOneUsageLineNamingTheFlag() throws {
        let image = "127.0.0.1:1/tripleomaster/centos-binary-keystone:current"
        let long = String(repeating: "x", count: 129)
        let cases: [(arguments: [String], shown: String)] = [
            (["image", "copy", image, "127.0.0.1:2/t/k:1", "--append-tag=-hot fix"], "--append-tag '-hot fix'"),
            (["image", "copy", image, "127.0.0.1:2/t/k:1", "--append-tag=-x\nRUN id"], #"--append-tag '-x\nRUN id'"#),
            (["image", "copy", image, "127.0.0.1:2/t/k:1", "--append-tag=-\u{FF11}"], "--append-tag '-\u{FF11}'"),
            (["image", "copy", image, "127.0.0.1:2/t/k:1", "--append-tag=-\(long)"], "--append-tag '-\(long)'"),
            (["modify", image, "127.0.0.1:2/t/k", "--tasks-from", "yum_update", "--append-tag", "-a/b"], "--append-tag '-a/b'"),
            (["modify", image, "127.0.0.1:2/t/k", "--tasks-from", "yum_update", "--append-tag", "-$(id)"], "--append-tag '-$(id)'"),
            (["modify", image, "127.0.0.1:2/t/k", "--tasks-from", "yum_update", "--append-tag", ""], "--append-tag ''"),
            (["hotfix", "apply", "--image", image, "--rpms-path", "/nonexistent", "--tag", "a:b"], "--tag 'a:b'"),
        ]
        for (arguments, shown) in cases {
            let run = try CLI.run(arguments)
            XCTAssertEqual(run.status, 2, "\(arguments): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("\(shown): \(Self.expected)"), "\(arguments): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").first?.hasPrefix("Error: \(shown)"), true, run.stderr)
        }
    }

    /// A suffix that is in the grammar but makes the tag too long is refused naming the tag.
    func testAnAppendTagThatMakesTheTagTooLongIsRefusedNamingTheTag() throws {
        // 7 + 123 bytes: a suffix in the grammar, a tag two bytes too long.
        let suffix = "-" + String(repeating: "x", count: 122)
        let run = try CLI.run(["image", "copy", "127.0.0.1:1/t/k:current", "127.0.0.1:2/t/k:current", "--append-tag=\(suffix)"])
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertTrue(
            run.stderr.contains("--append-tag '\(suffix)': the tag 'current\(suffix)' would be longer than 128"), run.stderr)
    }
}
