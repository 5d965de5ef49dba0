import ImagePrepOCI
import XCTest

final class ReferenceTests: XCTestCase {
    func testDockerDefaults() throws {
        let short = try Reference("ubuntu")
        XCTAssertEqual(short.registry, "registry-1.docker.io")
        XCTAssertEqual(short.repository, "library/ubuntu")
        XCTAssertNil(short.tag)
        XCTAssertEqual(short.manifestReference, "latest")

        let hub = try Reference("docker.io/tripleomaster/centos-binary-nova-api:current-tripleo")
        XCTAssertEqual(hub.registry, "registry-1.docker.io")
        XCTAssertEqual(hub.repository, "tripleomaster/centos-binary-nova-api")
        XCTAssertEqual(hub.tag, "current-tripleo")

        let namespaced = try Reference("tripleomaster/nova:1")
        XCTAssertEqual(namespaced.registry, "registry-1.docker.io")
        XCTAssertEqual(namespaced.repository, "tripleomaster/nova")
    }

    func testRegistryDetection() throws {
        let withPort = try Reference("192.168.24.1:8787/tripleo/nova-api:17.1_20230101.1")
        XCTAssertEqual(withPort.registry, "192.168.24.1:8787")
        XCTAssertEqual(withPort.repository, "tripleo/nova-api")
        XCTAssertEqual(withPort.tag, "17.1_20230101.1")

        let localhost = try Reference("localhost/app")
        XCTAssertEqual(localhost.registry, "localhost")
        XCTAssertEqual(localhost.repository, "app")

        let dotted = try Reference("quay.io/tripleomastercentos9/openstack-nova-api")
        XCTAssertEqual(dotted.registry, "quay.io")
        XCTAssertEqual(dotted.repository, "tripleomastercentos9/openstack-nova-api")
    }

    func testDigestAndTag() throws {
        let hex = String(repeating: "ab", count: 32)
        let reference = try Reference("quay.io/a/b:v1@sha256:\(hex)")
        XCTAssertEqual(reference.tag, "v1")
        XCTAssertEqual(reference.digest?.description, "sha256:\(hex)")
        XCTAssertEqual(reference.manifestReference, "sha256:\(hex)")
        XCTAssertEqual(reference.description, "quay.io/a/b:v1@sha256:\(hex)")
        XCTAssertEqual(try Reference(reference.description), reference)
    }

    func testMalformedReferences() {
        for text in ["", "UPPER/case", "quay.io/a/b:", "quay.io/a/b@sha256:1234", "a//b", "quay.io/a/b:-bad",
                     "has space", "quay.io:99999/a", "/leading", "quay.io/a..b",
                     // Non-ASCII that Character's properties call digits or letters.
                     "quay.io:\u{FF18}\u{FF10}/a", "[fe80::\u{FF11}]:5000/a", "quay.io/a/b:\u{FF11}", "quay.io/a/\u{E9}",
                     "r\u{E9}gistry.example:5000/a", "quay.io/a/b:t\u{301}", "quay.io/a___b", "quay.io/a.-b"]
        {
            XCTAssertThrowsError(try Reference(text), text) { error in
                guard case OCIError.invalidReference(let input, _) = error else {
                    return XCTFail("unexpected \(error) for '\(text)'")
                }
                XCTAssertEqual(input, text)
                XCTAssertTrue("\(error)".contains("invalid image reference"))
            }
        }
    }

    /// A suffix is what may follow a tag's first character (so `-hotfix` and `.1` are ones);
    /// appended to a tag it is a tag again within the length.
    func testTagSuffixes() throws {
        for suffix in ["-hotfix", ".1", "_x", "-modified-20260101120000", "A-z_0.9", String(repeating: "x", count: 128)] {
            XCTAssertTrue(Reference.isValidTagSuffix(suffix), suffix)
        }
        for suffix in ["", "-hot fix", "-x\nRUN touch /pwned", "-x$(id)", "-\u{FF11}", "-t\u{301}", "a:b", "a/b", "a@b",
                       String(repeating: "x", count: 129)]
        {
            XCTAssertFalse(Reference.isValidTagSuffix(suffix), suffix.debugDescription)
        }
        XCTAssertTrue(Reference.isValidTag("current-tripleo" + "-hotfix"))
        XCTAssertFalse(Reference.isValidTag("-hotfix"), "a suffix is not a tag on its own")
        XCTAssertFalse(Reference.isValidTag("1" + String(repeating: "x", count: Reference.maximumTagLength)))
        XCTAssertEqual(try Reference("quay.io/a/b:current-hotfix").tag, "current-hotfix")
    }
}
