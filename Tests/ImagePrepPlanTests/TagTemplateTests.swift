import Foundation
import ImagePrepPlan
import ImagePrepTestSupport
import XCTest

final class TagTemplateTests: XCTestCase {
    func testPlainLabelAndTemplate() throws {
        let labels = ["rdo_version": "abc_123", "version": "17.1", "release": "20230101.1"]
        XCTAssertEqual(try TagTemplate("rdo_version").tag(labels: labels, image: "x"), "abc_123")
        XCTAssertEqual(try TagTemplate("{version}-{release}").tag(labels: labels, image: "x"), "17.1-20230101.1")
        XCTAssertEqual(try TagTemplate("{version}-{release}").labels, ["version", "release"])
    }

    func testMissingLabelAndBadTemplates() {
        XCTAssertThrowsError(try TagTemplate("{version}-{release}").tag(labels: ["version": "1"], image: "q/x:1")) {
            guard case TagTemplateError.missingLabel(let image, let label, let available) = $0 else { return XCTFail() }
            XCTAssertEqual(image, "q/x:1")
            XCTAssertEqual(label, "release")
            XCTAssertEqual(available, ["version"])
            XCTAssertEqual("\($0)", "image q/x:1 has no label 'release' to take its tag from; its labels are: version")
        }
        for bad in ["", "{version", "version}", "{}", "{a{b}}"] {
            XCTAssertThrowsError(try TagTemplate(bad), bad)
        }
        XCTAssertThrowsError(try TagTemplate("v").tag(labels: ["v": "not a tag"], image: "x"))
    }

    /// tag_from_label formatted as upstream formats it (`str.format(**labels)`),
    /// template by template through the venv's Python: the same text, a
    /// missing label where Python has a KeyError, a refusal where Python
    /// raises anything else.
    func testTemplatesFormatAsPythonsStrFormat() throws {
        let python = try UpstreamVenv.python()
        let labels = ["version": "17.1", "release": "20230101.1", "rdo_version": "abc_123", "quoted": "it's", "uni": "é"]
        let templates = [
            "{version}-{release}", "{version!s}", "{version:.3}", "{version!s:.2}", "{release:.0}", "{version:>8}",
            "{version:_<8}", "{version:^9}", "{version:-^8}", "{version:08}", "{version:8s}", "{version:s}", "{version!r}",
            "{version!a}", "{uni!a}", "{uni!r}", "{quoted!r}", "{{{version}}}", "v{{x}}-{rdo_version}", "{version:}",
            "{missing}-{version}", "{version:+}", "{version:#}", "{version:=8}", "{version:,}", "{version:d}",
            "{version:.}", "{version!x}", "{version!}", "{version!ss}", "{0}", "{}", "{version.upper}", "{version[0]}",
            "{version:{release}}", "}", "{version", "a}b", "{version:<<5}", "{version: <5}", "{version:z}",
        ]
        // Python formats these; no tag could come of a method's repr, and imageprep
        // does not do look-ups or nested fields: refused by name.
        let refused = ["{version.upper}", "{version[0]}", "{version:{release}}"]
        let program = """
            import json, sys
            labels = json.loads(sys.argv[1])
            out = []
            for t in sys.argv[2:]:
                try:
                    out.append(["ok", t.format(**labels)])
                except KeyError as e:
                    out.append(["missing", str(e)])
                except Exception as e:
                    out.append([type(e).__name__, str(e)])
            print(json.dumps(out))
            """
        let encoded = String(decoding: try JSONEncoder().encode(labels), as: UTF8.self)
        let result = try CLI.runProcess(python, ["-c", program, encoded] + templates)
        XCTAssertEqual(result.status, 0, result.stderr)
        let answers = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String]])
        for (template, answer) in zip(templates, answers) {
            let parsed = Result { try TagTemplate(template) }
            switch (answer[0], parsed) {
            case ("ok", .success(let tag)):
                XCTAssertEqual(tag.formatted(labels: labels), answer[1], template)
            case ("missing", .success(let tag)):
                XCTAssertNil(tag.formatted(labels: labels), template)
            case (_, .failure) where refused.contains(template):
                continue
            case ("ok", .failure(let error)), ("missing", .failure(let error)):
                XCTFail("\(template): Python gives \(answer), imageprep refuses it: \(error)")
            case (_, .success(let tag)):
                XCTFail("\(template): Python raises \(answer), imageprep gives \(tag.formatted(labels: labels) ?? "nil")")
            case (_, .failure):
                continue
            }
        }
        XCTAssertEqual(answers.count, templates.count)
    }

    func testAStrFormatErrorIsRefusedWithPythonsReason() {
        XCTAssertThrowsError(try TagTemplate("{version:+}")) {
            XCTAssertEqual("\($0)", "invalid tag_from_label '{version:+}': str.format: Sign not allowed in string format specifier")
        }
        XCTAssertThrowsError(try TagTemplate("{version.upper}")) {
            XCTAssertEqual(
                "\($0)", "invalid tag_from_label '{version.upper}': '{version.upper}': attribute and index look-ups are not supported; name a label")
        }
    }
}
