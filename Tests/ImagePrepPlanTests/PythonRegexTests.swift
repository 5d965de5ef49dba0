import Foundation
import ImagePrepPlan
import ImagePrepTestSupport
import XCTest

/// `includes`/`excludes` match as Python's `re.search` (upstream's filter) does:
/// each pattern against the same image names through the venv's Python 3.11.
final class PythonRegexTests: XCTestCase {
    static let names = [
        "quay.io/tripleowallaby/openstack-nova-compute:17.1",
        "quay.io/tripleowallaby/openstack-nova-compute-ironic:17.1",
        "quay.io/ceph/daemon:v6",
        "docker.io/tripleomaster/centos-binary-nova-api:current-tripleo",
        "registry.example/NOVA-API:1",
        "odd/a{b}c:x[y]&z",
        "nova-nova-compute",
    ]

    /// Python accepts these; imageprep refuses them by name rather than match differently.
    static let unsupported = ["(?(1)a|b)", "(a)?(?(1)b|c)", "(?x) nova", "(?a)\\w"]

    static let patterns = [
        // Python's own spellings.
        "(?P<svc>nova)-(?P=svc)-compute", "(?P<service_name>nova|glance)-api", "(?P<n>o)(?P=n)?k",
        "(?i)NOVA-API", "(?i:nova)-API", "(?#c)(?i)nova-api", "nova(?#a comment)-api", "\\Aquay", "ironic:17\\.1\\Z",
        "(?<=openstack-)nova", "(?<!centos-binary-)nova-api", "(?>nova)-api", "o++", "(?s).", "(?m)^quay", "(?-i:NOVA)",
        // Braces and classes, which ICU reads differently.
        "[[]y", "[&]z", "y]&", "a{b}c", "a{,1}b", "o{2}", "o{1,}k", "c{}", "c{,}", "x{,}y", "{", "}", "]", "[]a]", "[^]a]z",
        "[\\b]", "[a\\-]", "[\\d.]+$", "[^a-z./:-]",
        // Escapes.
        "nova-\\d+", "\\x6eova", "\\u006eova", "\\N{LATIN SMALL LETTER N}ova", "\\156ova", "\\0", "\\v", "\\-compute",
        "(nova)-\\1", "\\.io/", "\\w+-\\W", "\\bnova\\b", "\\Bova",
        // Everyday ones.
        "nova-compute$", "nova-compute:", "^quay\\.io/", "nova|glance", "ceph/daemon", "nova-[a-z]+$", "NOVA",
        // Python refuses these.
        "nova-[api", "(", "\\p{L}", "(?<name>x)", "a{2,1}", "(?i)a(?s)b", "\\Q", "\\e", "\\1", "*", "(?P<1>x)",
        "(?L)x", "\\x6", "[a", "(?P=nope)",
    ] + unsupported

    func testPatternsMatchAsPythonsReSearchOrAreRefused() throws {
        let python = try UpstreamVenv.python()
        let program = """
            import json, re, sys
            patterns, names = json.loads(sys.argv[1]), json.loads(sys.argv[2])
            out = []
            for p in patterns:
                try:
                    out.append([bool(re.search(p, n)) for n in names])
                except re.error as e:
                    out.append(str(e))
            print(json.dumps(out))
            """
        let encoded = { (value: [String]) in String(decoding: try JSONEncoder().encode(value), as: UTF8.self) }
        let result = try CLI.runProcess(python, ["-c", program, try encoded(Self.patterns), try encoded(Self.names)])
        XCTAssertEqual(result.status, 0, result.stderr)
        let answers = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [Any])
        XCTAssertEqual(answers.count, Self.patterns.count)
        var matchedSomewhere = 0
        for (pattern, answer) in zip(Self.patterns, answers) {
            switch (Result { () throws(PythonRegex.Failure) in try PythonRegex(pattern) }, answer) {
            case (.success(let regex), let expected as [Bool]):
                XCTAssertFalse(Self.unsupported.contains(pattern), "\(pattern) should be refused")
                XCTAssertEqual(Self.names.map(regex.search), expected, "\(pattern) (ICU: \(regex.translated))")
                if expected.contains(true) { matchedSomewhere += 1 }
            case (.success(let regex), let error):
                XCTFail("\(pattern): Python refuses it (\(error)), imageprep took it as \(regex.translated)")
            case (.failure(.unsupported), _ as [Bool]):
                XCTAssertTrue(Self.unsupported.contains(pattern), "\(pattern) is refused but Python matches it")
            case (.failure(.invalid(let reason)), _ as [Bool]):
                XCTFail("\(pattern): Python matches with it, imageprep says \(reason)")
            case (.failure, _):
                continue
            }
        }
        // The table is no row of misses.
        XCTAssertGreaterThan(matchedSomewhere, 40)
    }

    func testARefusedConstructIsNamedInOneLine() throws {
        for (pattern, expected) in [
            ("(?x) nova", "Python's verbose flag (?x) is not supported in includes/excludes"),
            ("\\p{L}", "bad escape \\p (Python's re has no \\p)"),
        ] {
            do {
                _ = try PythonRegex(pattern)
                XCTFail("\(pattern) was taken")
            } catch {
                XCTAssertEqual(error.description, expected)
            }
        }
    }
}
