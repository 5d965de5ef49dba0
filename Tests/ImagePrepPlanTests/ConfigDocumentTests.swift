import ImagePrepPlan
import XCTest

/// YAML read as PyYAML's safe_load reads it (heatclient, tripleoclient and
/// tripleo-common do): merge keys, YAML 1.1 scalars, aliases within bounds.
final class ConfigDocumentTests: XCTestCase {
    private func parse(_ text: String, file: String = "env.yaml") throws -> ConfigValue {
        try ConfigDocument.parse(text, file: file)
    }

    // MARK: Merge keys

    func testAMergeKeyTakesTheAnchorsEntriesAndExplicitKeysWin() throws {
        let document = try parse("""
            base: &base {namespace: quay.io/a, tag: "1", name_prefix: p-}
            entry:
              tag: "2"
              <<: *base
              name_suffix: s
            """)
        // Merged keys first, then the entry's own; the explicit tag wins wherever it stands.
        XCTAssertEqual(document["entry"], .map([
            ConfigEntry("namespace", .string("quay.io/a")), ConfigEntry("tag", .string("2")),
            ConfigEntry("name_prefix", .string("p-")), ConfigEntry("name_suffix", .string("s")),
        ]))
    }

    func testInAListOfMergedMappingsTheEarlierWinsAsTheMergeSpecSays() throws {
        // The YAML 1.1 merge spec and PyYAML 5.4: "keys in mapping nodes earlier in
        // the sequence override keys specified in later mapping nodes".
        let document = try parse("""
            a: &a {tag: from-a, only_a: "1"}
            b: &b {tag: from-b, only_b: "2"}
            c:
              <<: [*a, *b]
            d:
              <<: [*a, *b]
              tag: explicit
            """)
        XCTAssertEqual(document["c"]?["tag"], .string("from-a"))
        XCTAssertEqual(document["c"]?["only_a"], .string("1"))
        XCTAssertEqual(document["c"]?["only_b"], .string("2"))
        XCTAssertEqual(document["d"]?["tag"], .string("explicit"))
    }

    func testMergesNestAndAQuotedMergeKeyIsAnOrdinaryKey() throws {
        let document = try parse("""
            a: &a {x: "1"}
            b: &b
              <<: *a
              y: "2"
            c:
              <<: *b
              "<<": literal
            """)
        XCTAssertEqual(document["c"], .map([
            ConfigEntry("x", .string("1")), ConfigEntry("y", .string("2")), ConfigEntry("<<", .string("literal")),
        ]))
    }

    func testMergingAScalarIsAnErrorNamingTheFileAndLine() throws {
        for (text, expected) in [
            ("a: x\nb:\n  <<: not-a-mapping\n", "a mapping or list of mappings for merging, found a scalar"),
            ("a: &a [1]\nb:\n  <<: [*a]\n", "a mapping for merging, found a list"),
        ] {
            XCTAssertThrowsError(try parse(text)) { error in
                guard case .invalidYAML(let file, let line, _, let problem) = error as? PlanError else {
                    return XCTFail("\(error)")
                }
                XCTAssertEqual(file, "env.yaml")
                XCTAssertEqual(line, 3)
                XCTAssertEqual(problem, "<<: expected \(expected)")
            }
        }
    }

    func testAListAsAMappingKeyIsAnError() throws {
        // PyYAML: "found unhashable key"; imageprep used to take it as the key "".
        XCTAssertThrowsError(try parse("? [a, b]\n: value\n")) { error in
            XCTAssertEqual("\(error)", "env.yaml:1:3: malformed YAML: a mapping key must be a string, found a list")
        }
    }
}
