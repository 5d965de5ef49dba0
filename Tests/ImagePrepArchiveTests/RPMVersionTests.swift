import ImagePrepArchive
import XCTest

final class RPMVersionTests: XCTestCase {
    func testVersionsOrderAsRPMOrdersThem() {
        // Pairs that rpm itself orders a < b (rpmvercmp's documented cases).
        let ordered: [(String, String)] = [
            ("1.0", "1.1"), ("1.0", "1.0.1"), ("2.9", "2.10"), ("1.0a", "1.0b"), ("1.0a", "1.0.1"), ("a", "1"),
            ("1.0~rc1", "1.0"), ("1.0~rc1", "1.0~rc2"), ("1.0", "1.0^git1"), ("1.0^git1", "1.0.1"), ("001", "2"),
        ]
        for (a, b) in ordered {
            XCTAssertEqual(RPMVersion.compare(a, b), -1, "\(a) < \(b)")
            XCTAssertEqual(RPMVersion.compare(b, a), 1, "\(b) > \(a)")
        }
        XCTAssertEqual(RPMVersion.compare("1.0", "1_0"), 0)
        XCTAssertEqual(RPMVersion.compare("010", "10"), 0)
    }

    func testEpochWinsThenVersionThenRelease() {
        func package(_ epoch: String?, _ version: String, _ release: String) -> InstalledPackage {
            InstalledPackage(name: "p", epoch: epoch, version: version, release: release, arch: "noarch")
        }
        XCTAssertEqual(RPMVersion.compare(package(nil, "9.0", "1"), package("1", "1.0", "1")), -1)
        XCTAssertEqual(RPMVersion.compare(package("0", "1.0", "2"), package(nil, "1.0", "10")), -1)
        XCTAssertEqual(RPMVersion.compare(package(nil, "1.1", "1"), package(nil, "1.0", "9")), 1)
    }


    func testNEVRAPrintsTheEpochOnlyWhenThereIsOne() {
        XCTAssertEqual(InstalledPackage(name: "p", epoch: nil, version: "1.0", release: "2.el9", arch: "noarch").nevra, "p-1.0-2.el9.noarch")
        XCTAssertEqual(InstalledPackage(name: "p", epoch: "3", version: "1.0", release: "2", arch: "x86_64").nevra, "p-3:1.0-2.x86_64")
    }
}
