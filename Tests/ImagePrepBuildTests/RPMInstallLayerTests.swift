import Foundation
import ImagePrepTestSupport
import XCTest

@testable import ImagePrepBuild

/// Which hotfix RPMs the layer engine installs itself, and the one clear reason when it cannot.
final class RPMInstallLayerTests: XCTestCase {
    private func rpms(_ files: String, install: String = "", sections: String = "", name: String = "fix", version: String = "1.0") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-rpmlayer-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        _ = try RPMFixtures.rpmbuild(spec: """
            Name: \(name)
            Version: \(version)
            Release: 1
            Summary: test
            License: MIT
            BuildArch: noarch
            AutoReqProv: no

            %description
            test

            %install
            mkdir -p %{buildroot}/usr/share/%{name} %{buildroot}/etc
            echo 1 > %{buildroot}/usr/share/%{name}/VERSION
            echo x > %{buildroot}/etc/%{name}.conf
            \(install)

            %files
            \(files)

            \(sections)
            """, name: name, in: directory)
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

    /// A database with `installed` (an RPM directory) recorded by the host's rpm, as an image has it.
    private func database(with installed: String) throws -> RPMInstallLayer.Database {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-rpmdb-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: root) }
        let rpm = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: installed).first { $0.hasSuffix(".rpm") })
        try BuildahFixture.run("/usr/bin/rpm", [
            "--root", root.path, "--dbpath", "/var/lib/rpm", "--define", "_db_backend sqlite", "-U", "--justdb", "--noscripts",
            "--notriggers", installed + "/" + rpm,
        ])
        return RPMInstallLayer.Database(root: root, path: "var/lib/rpm", backend: "sqlite")
    }

    func testWhatTheImagesPackagesWouldRunGoesToBuildah() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-rpmlayer-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let update = try RPMInstallLayer.check(rpmsPath: try rpms("/usr/share/fix\n/etc/fix.conf", version: "2.0"))
        func reason(installed: String) async throws -> String {
            do {
                _ = try await update.contents(database: try database(with: installed), scratch: scratch, mtime: 0)
                return "installed"
            } catch let reason as RPMInstallLayer.NeedsBuildah {
                return "\(reason)"
            }
        }
        // The replaced version's uninstall scriptlets run when rpm replaces it.
        let withPostun = try await reason(
            installed: try rpms("/usr/share/fix\n/etc/fix.conf", sections: "%postun -p <lua>\nprint(1)"))
        XCTAssertEqual(withPostun, "the image's fix has %postun, which rpm runs in the image when it replaces it")
        // Another package's trigger on a hotfix package.
        let withTrigger = try await reason(
            installed: try rpms("/usr/share/watcher\n/etc/watcher.conf", sections: "%triggerin -p <lua> -- fix\nprint(1)", name: "watcher"))
        XCTAssertEqual(withTrigger, "the image's watcher has a trigger on fix, which only rpm in the image can run")
        // Neither: installed.
        let plain = try await reason(installed: try rpms("/usr/share/fix\n/etc/fix.conf"))
        XCTAssertEqual(plain, "installed")
    }
}
