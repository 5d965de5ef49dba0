import Foundation
import ImagePrepTestSupport
import XCTest

@testable import ImagePrepBuild

/// Which hotfix RPMs the layer engine installs itself, and the one clear reason when it cannot.
final class RPMInstallLayerTests: XCTestCase {
    private func rpms(_ files: String, install: String = "", sections: String = "") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-rpmlayer-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        _ = try RPMFixtures.rpmbuild(spec: """
            Name: fix
            Version: 1.0
            Release: 1
            Summary: test
            License: MIT
            BuildArch: noarch
            AutoReqProv: no

            %description
            test

            %install
            mkdir -p %{buildroot}/usr/share/fix %{buildroot}/etc
            echo 1 > %{buildroot}/usr/share/fix/VERSION
            echo x > %{buildroot}/etc/fix.conf
            \(install)

            %files
            \(files)

            \(sections)
            """, name: "fix", in: directory)
        return directory.path
    }

    private func reason(_ path: String) -> String {
        do {
            _ = try RPMInstallLayer.check(rpmsPath: path)
            return "allowed"
        } catch {
            return "\(error)"
        }
    }

    func testOnlyRPMsThatNeedNothingFromTheImageAreAllowed() throws {
        XCTAssertEqual(reason(try rpms("/usr/share/fix\n/etc/fix.conf")), "allowed")
        XCTAssertEqual(
            reason(try rpms("/usr/share/fix\n/etc/fix.conf", sections: "%pre -p <lua>\nprint(1)\n%posttrans -p <lua>\nprint(2)")),
            "fix-1.0-1.noarch.rpm has the scriptlets %pre, %posttrans, which only rpm in the image can run")
        XCTAssertEqual(
            reason(try rpms("/usr/share/fix\n%attr(0640, nova, nova) /etc/fix.conf")),
            "fix-1.0-1.noarch.rpm: /etc/fix.conf belongs to nova:nova (only the image's /etc/passwd knows the ids)")
        XCTAssertEqual(
            reason(try rpms("/usr/share/fix\n%config(noreplace) /etc/fix.conf")),
            "fix-1.0-1.noarch.rpm: /etc/fix.conf is a %config file (rpm keeps or replaces it after comparing the image's copy)")
        XCTAssertEqual(
            reason(try rpms("/usr/share/fix\n/etc/fix.conf\n/usr/share/fix/LINK", install: "ln %{buildroot}/usr/share/fix/VERSION %{buildroot}/usr/share/fix/LINK")),
            "fix-1.0-1.noarch.rpm: /usr/share/fix/LINK is hard-linked")
    }

    func testADatabaseTheHostsRPMCannotWriteGoesToBuildah() async throws {
        let install = try RPMInstallLayer.check(rpmsPath: try rpms("/usr/share/fix\n/etc/fix.conf"))
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-rpmlayer-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: scratch) }
        do {
            _ = try await install.contents(
                database: .init(root: scratch, path: "var/lib/rpm", backend: "bdb_ro"), scratch: scratch, mtime: 0)
            XCTFail("a Berkeley DB database was written")
        } catch let reason as RPMInstallLayer.NeedsBuildah {
            XCTAssertEqual("\(reason)", "the image's rpm database (/var/lib/rpm) is Berkeley DB, which the host's rpm cannot write")
        }
    }
}
