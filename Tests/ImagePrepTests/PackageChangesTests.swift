import ImagePrepArchive
import XCTest

@testable import ImagePrep

final class PackageChangesTests: XCTestCase {
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

    /// The layer engine's rpm database goes to /dev/shm only when it has room for the largest
    /// database `--max-rpmdb-size` lets a layer hold, with 512 MiB to spare.
    func testTheDatabaseScratchIsInMemoryOnlyWithRoomForTheLargestDatabase() throws {
        var info = statvfs()
        try XCTSkipUnless(statvfs("/dev/shm", &info) == 0 && access("/dev/shm", W_OK) == 0, "no writable /dev/shm")
        let free = Int64(info.f_bavail) * Int64(info.f_frsize)
        let work = URL(fileURLWithPath: "/work-directory")
        try XCTSkipUnless(free > 600 << 20, "/dev/shm has less than 600 MiB free")
        let small = ImageModification.databaseScratch(else: work, needing: 16 << 20)
        XCTAssertEqual(small.deletingLastPathComponent().path, "/dev/shm")
        let large = ImageModification.databaseScratch(else: work, needing: free)
        XCTAssertEqual(large.deletingLastPathComponent().path, "/work-directory")
        XCTAssertTrue(large.lastPathComponent.hasPrefix("imageprep-rpmdb-"))
    }
}
