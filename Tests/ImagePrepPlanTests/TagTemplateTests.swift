import ImagePrepPlan
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
}
