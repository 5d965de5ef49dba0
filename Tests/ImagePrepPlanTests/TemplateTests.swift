import XCTest

@testable import ImagePrepPlan

final class TemplateTests: XCTestCase {
    private func render(_ source: String, _ context: TemplateContext = [:], files: [String: String] = [:]) throws -> String {
        let template = try Template(source: source, file: "t.j2")
        return try template.render(context) { path in files[path] }
    }

    func testSubstitutesVariablesAndRendersUndefinedAsEmpty() throws {
        XCTAssertEqual(try render("{{a}}/{{ b }}:{{missing}}", ["a": .string("x"), "b": .string("y")]), "x/y:")
    }

    func testRendersNullAndBooleansAsJinjaDoes() throws {
        XCTAssertEqual(try render("{{n}} {{t}} {{f}}", ["n": .null, "t": .bool(true), "f": .bool(false)]), "None True False")
    }

    func testIfElifElseChoosesTheFirstTrueBranch() throws {
        let source = """
            {% if d == "odl" %}odl{% elif d == "ovn" %}ovn{% else %}other{% endif %}
            """
        XCTAssertEqual(try render(source, ["d": .string("odl")]), "odl")
        XCTAssertEqual(try render(source, ["d": .string("ovn")]), "ovn")
        XCTAssertEqual(try render(source, ["d": .string("x")]), "other")
        XCTAssertEqual(try render(source, [:]), "other")
    }

    func testBlockTagsKeepTheirNewlinesAndOneTrailingNewlineIsDropped() throws {
        // Jinja2's defaults: no trim_blocks, keep_trailing_newline off.
        XCTAssertEqual(try render("a\n{% if x %}\nb\n{% endif %}\nc\n", ["x": .bool(true)]), "a\n\nb\n\nc")
        XCTAssertEqual(try render("a\n{% if x %}\nb\n{% endif %}\nc\n", [:]), "a\n\nc")
    }

    func testWhitespaceControlTrims() throws {
        XCTAssertEqual(try render("a\n  {%- if x -%}\n  b\n{%- endif %}", ["x": .bool(true)]), "ab")
    }

    func testDefaultFilterAppliesOnlyToUndefined() throws {
        let source = "{% if ceph_images | default(true) %}yes{% else %}no{% endif %}"
        XCTAssertEqual(try render(source, [:]), "yes")
        XCTAssertEqual(try render(source, ["ceph_images": .bool(false)]), "no")
        XCTAssertEqual(try render(source, ["ceph_images": .null]), "no")
        XCTAssertEqual(try render("{{ x | default('d') }}", [:]), "d")
    }

    func testNotAndOrAndInequality() throws {
        XCTAssertEqual(try render("{% if not a and b != 'x' or c %}1{% endif %}", ["b": .string("y")]), "1")
        XCTAssertEqual(try render("{% if not a and b != 'x' %}1{% else %}0{% endif %}", ["b": .string("x")]), "0")
    }

    func testIncludeIsResolvedBesideTheTemplateWithTheSameVariables() throws {
        let template = try Template(source: "a {% include 'sub.j2' %} c", file: "/dir/main.j2")
        let out = try template.render(["v": .string("B")]) { path in path == "/dir/sub.j2" ? "<{{v}}>\n" : nil }
        XCTAssertEqual(out, "a <B> c")
    }

    func testMissingIncludeNamesTheFileAndLine() throws {
        XCTAssertThrowsError(try render("x\n{% include 'nope.j2' %}")) { error in
            XCTAssertEqual("\(error)", "t.j2:2: included template 'nope.j2' not found")
        }
    }

    func testUnclosedIfNamesItsLine() throws {
        XCTAssertThrowsError(try render("a\nb\n{% if x %}\nc\n")) { error in
            XCTAssertEqual((error as? TemplateError)?.line, 3)
            XCTAssertTrue("\(error)".contains("expected '{% endif %}'"), "\(error)")
        }
    }

    func testUnsupportedTagAndFilterAndUnclosedTagAreErrorsWithLines() throws {
        XCTAssertThrowsError(try render("\n\n{% for x in y %}")) { error in
            XCTAssertEqual("\(error)", "t.j2:3: unsupported tag 'for' (imageprep templates support if, elif, else, endif, include)")
        }
        XCTAssertThrowsError(try render("\n{{ x | upper }}")) { error in
            XCTAssertEqual((error as? TemplateError)?.line, 2)
            XCTAssertTrue("\(error)".contains("unsupported filter 'upper'"))
        }
        XCTAssertThrowsError(try render("a\n\n\n{{ x ")) { error in
            XCTAssertEqual("\(error)", "t.j2:4: unclosed tag: expected '}}'")
        }
        XCTAssertThrowsError(try render("{% endif %}")) { error in
            XCTAssertTrue("\(error)".contains("with no open 'if'"), "\(error)")
        }
        XCTAssertThrowsError(try render("{% if a == %}{% endif %}")) { error in
            XCTAssertEqual((error as? TemplateError)?.line, 1)
        }
    }

    /// Deep nesting overflowed the stack (the parser and the renderer recurse
    /// per level): 2,000 parentheses or `{% if %}`s crashed the fuzz build.
    /// Found with the template fuzz target; now each is a clear error.
    func testDeepNestingIsAnErrorNotAStackOverflow() throws {
        let parentheses = "{{ " + String(repeating: "(", count: 2000) + "x" + String(repeating: ")", count: 2000) + " }}"
        let conditionals = String(repeating: "{% if x %}", count: 2000) + "x" + String(repeating: "{% endif %}", count: 2000)
        let someParentheses = "{{ " + String(repeating: "(", count: 400) + "x" + String(repeating: ")", count: 400) + " }}"
        let nots = "{{ " + String(repeating: "not ", count: 900) + "x }}"
        let chain = "{{ " + Array(repeating: "x", count: 2000).joined(separator: " or ") + " }}"
        for (source, message) in [
            (parentheses, "t.j2:1: expression longer than 1000 tokens"),
            (someParentheses, "t.j2:1: expression nested more than 32 deep"),
            (conditionals, "t.j2:1: '{% if %}' nested more than 32 deep"),
            (nots, "t.j2:1: expression nested more than 32 deep"),
            (chain, "t.j2:1: expression longer than 1000 tokens"),
        ] {
            XCTAssertThrowsError(try render(source, ["x": .bool(true)])) { error in
                XCTAssertEqual("\(error)", message)
            }
        }
        // Nesting a catalog could plausibly use still renders.
        let nested = String(repeating: "{% if x %}", count: 20) + "{{ " + String(repeating: "(", count: 20) + "x"
            + String(repeating: ")", count: 20) + " }}" + String(repeating: "{% endif %}", count: 20)
        XCTAssertEqual(try render(nested, ["x": .string("deep")]), "deep")
    }
}
