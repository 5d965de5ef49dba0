import Foundation
import ImagePrepTestSupport
import XCTest

@testable import ImagePrepArchive

/// What an RPM's header says installing it runs and creates, read from RPMs built by rpmbuild.
final class RPMInstallHeaderTests: XCTestCase {
    private func build(_ name: String, sections: String, files: String = "/usr/share/%{name}\n/etc/%{name}.conf\n") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-rpmheader-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        return try RPMFixtures.rpmbuild(spec: """
            Name: \(name)
            Version: 1.0
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
            chmod 0751 %{buildroot}/usr/share/%{name}/VERSION
            ln -s VERSION %{buildroot}/usr/share/%{name}/CURRENT
            echo x > %{buildroot}/etc/%{name}.conf

            %files
            \(files)

            \(sections)
            """, name: name, in: directory)
    }

    func testScriptletsAndTriggersAreFound() throws {
        let plain = try RPMInstallHeader.read(path: try build("plain", sections: ""))
        XCTAssertEqual(plain.scriptlets, [])
        XCTAssertEqual(plain.package.nevra, "plain-1.0-1.noarch")

        let scripted = try RPMInstallHeader.read(path: try build("scripted", sections: """
            %pretrans -p <lua>
            print("a")
            %pre -p <lua>
            print("b")
            %post -p /sbin/ldconfig
            %postun -p <lua>
            print("c")
            %triggerin -p <lua> -- other
            print("d")
            %filetriggerin -p <lua> -- /usr/lib
            print("e")
            %transfiletriggerun -p <lua> -- /usr/share
            print("f")
            """))
        XCTAssertEqual(scripted.scriptlets, ["%pretrans", "%pre", "%post", "%postun", "%trigger", "%filetrigger", "%transfiletrigger"])
    }

    func testFilesCarryTheirTypeModeOwnerAndFlags() throws {
        let header = try RPMInstallHeader.read(path: try build("files", sections: "", files: """
            %dir /usr/share/%{name}
            /usr/share/%{name}/VERSION
            /usr/share/%{name}/CURRENT
            %attr(0640, nova, nova) %config(noreplace) /etc/%{name}.conf
            %ghost /usr/share/%{name}/cache
            """))
        let files = Dictionary(uniqueKeysWithValues: header.files.map { ($0.path, $0) })
        XCTAssertEqual(files["/usr/share/files"]?.isDirectory, true)
        XCTAssertEqual(files["/usr/share/files/VERSION"]?.mode, 0o100751)
        XCTAssertEqual(files["/usr/share/files/VERSION"]?.user, "root")
        XCTAssertEqual(files["/usr/share/files/CURRENT"]?.isSymlink, true)
        XCTAssertEqual(files["/usr/share/files/CURRENT"]?.linkTarget, "VERSION")
        XCTAssertEqual(files["/etc/files.conf"]?.isConfig, true)
        XCTAssertEqual(files["/etc/files.conf"]?.user, "nova")
        XCTAssertEqual(files["/etc/files.conf"]?.mode, 0o100640)
        XCTAssertEqual(files["/usr/share/files/cache"]?.isGhost, true)
        XCTAssertGreaterThan(files["/usr/share/files/VERSION"]?.mtime ?? 0, 1_600_000_000)
        XCTAssertEqual(header.hardLinked, [])
    }
}
