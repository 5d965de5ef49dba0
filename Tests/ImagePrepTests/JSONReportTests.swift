import Foundation
import ImagePrep
import XCTest

/// The one encoder of `--json` and `--report-file`: a value JSON cannot hold is an error naming
/// the report and where in it, not an empty report.
final class JSONReportTests: XCTestCase {
    struct Entry: Encodable {
        var name: String
        var rate: Double
    }

    struct Report: Encodable {
        var entries: [Entry]
        var path: String
    }

    func testEncodesIndentedWithSortedKeysAndSlashesAsTheyAre() throws {
        let data = try JSONReport.encode(Report(entries: [Entry(name: "a", rate: 1.5)], path: "a/b"), what: "--json")
        XCTAssertEqual(String(decoding: data, as: UTF8.self), """
            {
              "entries" : [
                {
                  "name" : "a",
                  "rate" : 1.5
                }
              ],
              "path" : "a/b"
            }
            """)
    }

    func testAValueJSONCannotHoldIsAnErrorNamingTheReportAndWhere() {
        let report = Report(entries: [Entry(name: "a", rate: 1), Entry(name: "b", rate: .nan)], path: "p")
        XCTAssertThrowsError(try JSONReport.encode(report, what: "/tmp/report.json")) { error in
            guard case PrepareError.unencodable(let what, let reason) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(what, "/tmp/report.json")
            XCTAssertTrue(reason.hasPrefix("at entries[1].rate: "), reason)
            XCTAssertTrue("\(error)".hasPrefix("/tmp/report.json: cannot encode the report as JSON: at entries[1].rate: "), "\(error)")
        }
    }
}
