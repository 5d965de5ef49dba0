import XCTest

@testable import ImagePrep

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

    func testCompareHostPackagesUpdatesWhatDiffersFromTheHost() {
        func package(_ name: String, _ epoch: String?, _ version: String, _ release: String, _ arch: String = "x86_64") -> InstalledPackage {
            InstalledPackage(name: name, epoch: epoch, version: version, release: release, arch: arch)
        }
        let image = [
            package("openssl", nil, "3.0.7", "24.el9"), package("glibc", "0", "2.34", "60.el9"),
            package("glibc", "0", "2.34", "60.el9", "i686"), package("python3-nova", "1", "27.1.0", "1.el9", "noarch"),
            package("only-in-image", nil, "1.0", "1"),
        ]
        let host = [
            package("openssl", nil, "3.0.7", "27.el9"), package("glibc", nil, "2.34", "60.el9"),
            package("python3-nova", "1", "27.1.0", "1.el9", "noarch"), package("only-on-host", nil, "2", "1"),
        ]
        // An absent epoch is epoch 0; the multilib glibc pair counts once; packages
        // only one side has are left alone.
        XCTAssertEqual(PackageInventory.packagesToUpdate(image, host: host), ["openssl"])
        XCTAssertEqual(PackageInventory.packagesToUpdate(image, host: image), [])
        XCTAssertEqual(
            PackageInventory.parse("zlib\t(none)\t1.2.13\t3\tx86_64\nbash\t0\t5.2\t1\tx86_64\nbroken line\n"),
            [package("bash", "0", "5.2", "1"), package("zlib", nil, "1.2.13", "3")])
    }

    func testEpochWinsThenVersionThenRelease() {
        func package(_ epoch: String?, _ version: String, _ release: String) -> InstalledPackage {
            InstalledPackage(name: "p", epoch: epoch, version: version, release: release, arch: "noarch")
        }
        XCTAssertEqual(RPMVersion.compare(package(nil, "9.0", "1"), package("1", "1.0", "1")), -1)
        XCTAssertEqual(RPMVersion.compare(package("0", "1.0", "2"), package(nil, "1.0", "10")), -1)
        XCTAssertEqual(RPMVersion.compare(package(nil, "1.1", "1"), package(nil, "1.0", "9")), 1)
    }

    func testChangesSortAddedUpgradedDowngradedRemoved() {
        let before = [
            InstalledPackage(name: "a", epoch: nil, version: "1", release: "1", arch: "noarch"),
            InstalledPackage(name: "b", epoch: nil, version: "2", release: "1", arch: "noarch"),
            InstalledPackage(name: "c", epoch: nil, version: "1", release: "1", arch: "noarch"),
        ]
        let after = [
            InstalledPackage(name: "a", epoch: nil, version: "1", release: "2", arch: "noarch"),
            InstalledPackage(name: "b", epoch: nil, version: "1", release: "9", arch: "noarch"),
            InstalledPackage(name: "d", epoch: "1", version: "1", release: "1", arch: "x86_64"),
        ]
        let changes = PackageChanges(image: "img", before: before, after: after)
        XCTAssertEqual(changes.upgraded.map(\.name), ["a"])
        XCTAssertEqual(changes.downgraded.map(\.name), ["b"])
        XCTAssertEqual(changes.added.map(\.to), ["d-1:1-1.x86_64"])
        XCTAssertEqual(changes.removed.map(\.from), ["c-1-1.noarch"])
        XCTAssertEqual(
            changes.summary, "changes img: added d-1:1-1.x86_64; upgraded a-1-2.noarch; downgraded b-1-9.noarch; removed c-1-1.noarch")
    }
}
