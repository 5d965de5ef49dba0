import Foundation
import ImagePrepPlan
import ImagePrepTestSupport
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
            XCTAssertEqual("\(error)", "env.yaml:1:3: malformed YAML: a mapping key must be a string, not a list or mapping")
        }
    }

    // MARK: Aliases (issue 23, 14)

    /// Nine levels of ten aliases: a 500-byte file that is a billion values expanded.
    static func aliasBomb(levels: Int = 9) -> String {
        var lines = ["parameter_defaults:", "  L0: &a0 [\(Array(repeating: "x", count: 10).joined(separator: ","))]"]
        for level in 1..<levels {
            lines.append("  L\(level): &a\(level) [\(Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ","))]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func testAnAliasBombFailsNamingTheFileBeforeAnythingIsExpanded() throws {
        let text = Self.aliasBomb()
        XCTAssertLessThan(text.utf8.count, 600)
        let started = Date()
        XCTAssertThrowsError(try parse(text, file: "bomb.yaml")) { error in
            XCTAssertEqual(
                "\(error)",
                "bomb.yaml: YAML aliases expand this document past \(200_000 + text.utf8.count) values (an alias bomb?); nothing was read")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testLongScalarsRepeatedByAliasesAreBoundedByTheirBytes() throws {
        let long = String(repeating: "y", count: 1 << 20)
        let text = "a: &a \(long)\nb: [\(Array(repeating: "*a", count: 20).joined(separator: ", "))]\n"
        XCTAssertThrowsError(try parse(text, file: "long.yaml")) { error in
            XCTAssertEqual(
                "\(error)",
                "long.yaml: YAML aliases expand this document past \((16 << 20) + text.utf8.count) bytes of text (an alias bomb?); nothing was read")
        }
    }

    func testAnAliasOfAListAsAMappingKeyIsRefusedBeforeItIsHashed() throws {
        // Yams hashes every key while composing: a bomb as a key would never return.
        let text = Self.aliasBomb(levels: 4) + "  K:\n    ? *a3\n    : 1\n"
        XCTAssertThrowsError(try parse(text, file: "key.yaml")) { error in
            XCTAssertEqual("\(error)", "key.yaml:7:7: malformed YAML: a mapping key must be a string, not a list or mapping")
        }
    }

    func testAliasesWithinTheBoundAreExpanded() throws {
        // 10,000 values from a few hundred bytes, and a scalar alias as a key.
        let text = Self.aliasBomb(levels: 4) + "  name: &n keystone\n  K: {*n : 1}\n"
        let document = try parse(text)
        guard case .list(let top)? = document["parameter_defaults"]?["L3"] else { return XCTFail("\(document)") }
        XCTAssertEqual(top.count, 10)
        func leaves(_ value: ConfigValue) -> Int {
            if case .list(let items) = value { return items.map(leaves).reduce(0, +) }
            return value == .string("x") ? 1 : 0
        }
        XCTAssertEqual(leaves(.list(top)), 10_000)
        XCTAssertTrue(top[9] == document["parameter_defaults"]?["L2"], "the alias is the anchored list")
        XCTAssertEqual(document["parameter_defaults"]?["K"], .map([ConfigEntry("keystone", .number("1"))]))
    }

    // MARK: YAML 1.1 scalars (issue 21, 4)

    /// Each plain scalar as a `set` value renders as Python prints what PyYAML
    /// (the venv's heatclient loader) makes of it.
    func testPlainScalarsRenderAsPythonPrintsWhatPyYAMLReads() throws {
        let python = try UpstreamVenv.python()
        let scalars = [
            "16.10", "16.1", "17.0", "1.", ".5", "+1.50", "-0.0", "1_000.5", "1.0e+3", "1.5e-7", "12345678901234567.0",
            "1e3", "1.0e3", "0.0001", "0.00001", "123456789.123456789", ".inf", "-.Inf", ".NaN",
            "017", "0o17", "09", "0", "-0", "+12", "1_000", "0x1F", "0b101", "-0x10", "99999999999999999999999",
            "1:30", "190:20:30", "-1:30", "1:30.5", "1:60", "01:30",
            "yes", "No", "ON", "off", "y", "true", "False", "~", "null", "2023-01-01", "16.10.1", "v16.10", "1_0:5",
        ]
        let program = """
            import sys
            from heatclient.common import template_format
            import yaml
            for s in sys.argv[1:]:
                v = yaml.load('v: ' + s, Loader=template_format.yaml_loader)['v']
                print(str(v))
            """
        let result = try CLI.runProcess(python, ["-c", program] + scalars)
        XCTAssertEqual(result.status, 0, result.stderr)
        let expected = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (index, scalar) in scalars.enumerated() {
            let value = try parse("v: \(scalar)")["v"]
            let rendered: String
            switch value {
            case .number(let n)?: rendered = YAML11Number(n)?.pythonText ?? "(no number: \(n))"
            case .bool(let b)?: rendered = b ? "True" : "False"
            case .null?: rendered = "None"
            case .string(let s)?: rendered = s
            default: rendered = "\(String(describing: value))"
            }
            XCTAssertEqual(rendered, expected[index], "v: \(scalar)")
        }
    }

    func testYesNoOnOffKeepHowTheyWereWrittenForAWarning() throws {
        let document = try parse("set: {a: yes, b: true, c: Off, d: 'yes'}")
        guard case .map(let entries)? = document["set"] else { return XCTFail("\(document)") }
        XCTAssertEqual(entries.map(\.written), ["yes", nil, "Off", nil])
        XCTAssertEqual(entries.map(\.value), [.bool(true), .bool(true), .bool(false), .string("yes")])
    }
}
