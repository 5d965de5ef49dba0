import Foundation
import ImagePrepRegistry
import XCTest

@testable import ImagePrep
import ImagePrepOCI

/// registries.conf as the containers tools read it: v2 and v1 tables, drop-ins, prefix
/// matching, mirrors, and errors that name the file and line or key.
final class RegistriesConfTests: XCTestCase {
    func testV2TablesGiveInsecureBlockedAndMirrorsInOrder() throws {
        var configuration = RegistriesConf()
        try configuration.add(
            """
            unqualified-search-registries = ["registry.fedoraproject.org", "docker.io"]
            short-name-mode = "enforcing"

            [[registry]]
            location = "registry.redhat.io"
            [[registry.mirror]]
            location = "192.0.2.10:8787/rh"
            insecure = true
            [[registry.mirror]]
            location = "mirror.example.com"

            [[registry]]
            prefix = "quay.io/tripleomaster"
            location = "lab.example.com:5000/tripleomaster"
            insecure = true

            [[registry]]
            location = "evil.example.com"
            blocked = true
            """, file: "/etc/containers/registries.conf")
        XCTAssertEqual(configuration.registries, [
            RegistriesConf.Registry(
                prefix: "registry.redhat.io",
                mirrors: [.init(location: "192.0.2.10:8787/rh", insecure: true), .init(location: "mirror.example.com")],
                file: "/etc/containers/registries.conf"),
            RegistriesConf.Registry(
                prefix: "quay.io/tripleomaster", location: "lab.example.com:5000/tripleomaster", insecure: true,
                file: "/etc/containers/registries.conf"),
            RegistriesConf.Registry(prefix: "evil.example.com", blocked: true, file: "/etc/containers/registries.conf"),
        ])
        XCTAssertEqual(configuration.insecureRegistries, ["192.0.2.10:8787", "lab.example.com:5000"])

        let image = try Reference("registry.redhat.io/rhosp-rhel8/openstack-nova-api:16.2")
        XCTAssertEqual(configuration.pullSources(for: image).map(\.description), [
            "192.0.2.10:8787/rh/rhosp-rhel8/openstack-nova-api:16.2",
            "mirror.example.com/rhosp-rhel8/openstack-nova-api:16.2",
            "registry.redhat.io/rhosp-rhel8/openstack-nova-api:16.2",
        ])
        // The prefix is rewritten to the location.
        XCTAssertEqual(
            configuration.pullSources(for: try Reference("quay.io/tripleomaster/centos-binary-nova-api:current")).map(\.description),
            ["lab.example.com:5000/tripleomaster/centos-binary-nova-api:current"])
        // No entry: the image as it is.
        XCTAssertEqual(
            configuration.pullSources(for: try Reference("quay.io/other/x:1")).map(\.description), ["quay.io/other/x:1"])
        XCTAssertEqual(configuration.registry(for: try Reference("evil.example.com/a/b:1"))?.blocked, true)
    }

    func testARewrittenLocationIsNotAMirror() throws {
        var configuration = RegistriesConf()
        try configuration.add(
            """
            [[registry]]
            prefix = "quay.io/tripleomaster"
            location = "lab.example.com:5000/tripleomaster"
            [[registry.mirror]]
            location = "mirror.example.com/tm"
            """, file: "r.conf")
        let sources = PullSources(configuration: configuration, client: RegistryClient())
        let image = try Reference("quay.io/tripleomaster/x:1")
        XCTAssertTrue(sources.isMirror(try Reference("mirror.example.com/tm/x:1"), of: image))
        XCTAssertFalse(sources.isMirror(try Reference("lab.example.com:5000/tripleomaster/x:1"), of: image))
        XCTAssertNoThrow(try sources.checkNotBlocked([image]))
    }

    func testPrefixesMatchWholeComponentsAndTheLongestWins() throws {
        var configuration = RegistriesConf()
        try configuration.add(
            """
            [[registry]]
            location = "example.com"
            [[registry]]
            location = "example.com/foo"
            blocked = true
            [[registry]]
            prefix = "*.corp.example"
            insecure = true
            [[registry]]
            location = "docker.io"
            [[registry.mirror]]
            location = "127.0.0.1:5000"
            pull-from-mirror = "digest-only"
            """, file: "r.conf")
        XCTAssertEqual(configuration.registry(for: try Reference("example.com/foo/x:1"))?.prefix, "example.com/foo")
        XCTAssertEqual(configuration.registry(for: try Reference("example.com/foobar/x:1"))?.prefix, "example.com")
        XCTAssertNil(configuration.registry(for: try Reference("example.com.evil/x:1")))
        XCTAssertEqual(configuration.registry(for: try Reference("reg.corp.example:8787/x:1"))?.prefix, "*.corp.example")
        XCTAssertEqual(
            configuration.pullSources(for: try Reference("reg.corp.example:8787/x:1")).map(\.description),
            ["reg.corp.example:8787/x:1"])
        // Docker Hub names match docker.io; a digest-only mirror serves only digests.
        XCTAssertEqual(
            configuration.pullSources(for: try Reference("docker.io/tripleomaster/x:current")).map(\.registry),
            [Reference.dockerHubRegistry])
        let digest = "sha256:" + String(repeating: "a", count: 64)
        XCTAssertEqual(
            configuration.pullSources(for: try Reference("tripleomaster/x@\(digest)")).map(\.description),
            ["127.0.0.1:5000/tripleomaster/x@\(digest)", "\(Reference.dockerHubRegistry)/tripleomaster/x@\(digest)"])
    }

    func testV1TablesMarkInsecureAndBlocked() throws {
        var configuration = RegistriesConf()
        try configuration.add(
            """
            [registries.search]
            registries = ['registry.access.redhat.com', 'docker.io']

            [registries.insecure]
            registries = ['192.168.24.1:8787', '192.168.24.3:8787']

            [registries.block]
            registries = ['docker.io']
            """, file: "v1.conf")
        XCTAssertEqual(configuration.insecureRegistries, ["192.168.24.1:8787", "192.168.24.3:8787"])
        XCTAssertEqual(configuration.registry(for: try Reference("docker.io/library/centos:7"))?.blocked, true)
        XCTAssertEqual(configuration.registry(for: try Reference("192.168.24.1:8787/x/y:1"))?.blocked, false)
    }

    func testTheAliasesTablesOfDropInsAreIgnored() throws {
        var configuration = RegistriesConf()
        try configuration.add(
            """
            [aliases]
              # centos
              "centos" = "quay.io/centos/centos"
              "fedora" = "registry.fedoraproject.org/fedora"
            """, file: "shortnames.conf")
        XCTAssertEqual(configuration.registries, [])
    }

    func testMalformedFilesNameTheFileAndLineOrKey() {
        func error(_ text: String) -> String {
            var configuration = RegistriesConf()
            do {
                try configuration.add(text, file: "/etc/containers/registries.conf")
                return "no error"
            } catch {
                return error.description
            }
        }
        let syntax = error("[[registry]]\nlocation = \"a.example\"\ninsecure = yes\n")
        XCTAssertTrue(syntax.hasPrefix("/etc/containers/registries.conf:3: "), syntax)
        XCTAssertEqual(
            error("[[registry]]\nlocation = \"a.example\"\ninsecure = \"true\"\n"),
            "/etc/containers/registries.conf: registry[0].insecure: expected true or false")
        XCTAssertEqual(
            error("[[registry]]\nlocation = \"a.example\"\n[[registry.mirror]]\ninsecure = true\n"),
            "/etc/containers/registries.conf: registry[0].mirror[0]: needs a location")
        XCTAssertEqual(
            error("[registries.insecure]\nregistries = '192.168.24.1:8787'\n"),
            "/etc/containers/registries.conf: registries.insecure.registries: expected a list of strings")
        XCTAssertEqual(
            error("[[registry]]\nlocation = \"http://a.example\"\n"),
            "/etc/containers/registries.conf: registry[0].location: expected host[:port][/path] without a scheme, got 'http://a.example'")
        XCTAssertEqual(
            error("[[registry]]\ninsecure = true\n"),
            "/etc/containers/registries.conf: registry[0]: needs a location (or a prefix)")
    }

    func testLoadReadsTheEnvironmentsFileThenTheDropInsByName() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("registries-\(UUID().uuidString)")
        let dropIns = directory.appendingPathComponent("registries.conf.d")
        try FileManager.default.createDirectory(at: dropIns, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let main = directory.appendingPathComponent("registries.conf")
        try "[[registry]]\nlocation = \"a.example\"\n".write(to: main, atomically: true, encoding: .utf8)
        try "[[registry]]\nlocation = \"a.example\"\nblocked = true\n"
            .write(to: dropIns.appendingPathComponent("20-block.conf"), atomically: true, encoding: .utf8)
        try "[[registry]]\nlocation = \"a.example\"\ninsecure = true\n"
            .write(to: dropIns.appendingPathComponent("10-insecure.conf"), atomically: true, encoding: .utf8)
        try "not = [toml".write(to: dropIns.appendingPathComponent("README"), atomically: true, encoding: .utf8)

        let configuration = try RegistriesConf.load(environment: ["CONTAINERS_REGISTRIES_CONF": main.path])
        XCTAssertEqual(configuration.files.map { URL(fileURLWithPath: $0).lastPathComponent }, [
            "registries.conf", "10-insecure.conf", "20-block.conf",
        ])
        // The later file's entry for the prefix replaces the earlier one.
        XCTAssertEqual(configuration.registries.count, 1)
        XCTAssertEqual(configuration.registries.first?.blocked, true)
        XCTAssertEqual(configuration.registries.first?.insecure, false)
        XCTAssertEqual(configuration.registries.first?.file, dropIns.appendingPathComponent("20-block.conf").path)

        // An explicit file must exist; the default one may be absent.
        XCTAssertThrowsError(try RegistriesConf.load(path: directory.appendingPathComponent("nope.conf").path)) { error in
            XCTAssertEqual("\(error)", "\(directory.path)/nope.conf: cannot read: no such file")
        }
        XCTAssertEqual(
            try RegistriesConf.load(environment: ["CONTAINERS_REGISTRIES_CONF": directory.appendingPathComponent("none").path])
                .files.count, 2, "only the drop-ins")
    }
}
