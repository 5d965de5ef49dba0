import Foundation
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// What an undercloud needs from buildah, with real buildah and real registries: a hotfix
/// whose base sits behind a login on a registry with a private CA.
final class UndercloudBuildahTests: XCTestCase {
    struct Fixture {
        var buildah: BuildahFixture
        /// TLS with a private CA and htpasswd auth.
        var source: RegistryServer
        var destination: RegistryServer
        var tls: RegistryServer.TLSFiles
        var tlsDirectory: URL
    }

    static let user = "stack"
    static let password = "Undercl0ud-s3cret-\(UUID().uuidString.prefix(8))"
    nonisolated(unsafe) static var fixture: Result<Fixture, any Error>?

    override class func setUp() {
        fixture = Result {
            let buildah = try BuildahFixture()
            var started: [RegistryServer] = []
            let tlsDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-tls-\(UUID().uuidString)")
            do {
                let tls = try RegistryServer.makeTLSFiles(in: tlsDirectory)
                let source = try RegistryServer(auth: .htpasswd(user: user, password: password), tls: tls)
                started.append(source)
                let destination = try RegistryServer()
                started.append(destination)
                // containers-image reads CA certificates as *.crt files of a directory.
                let certs = tlsDirectory.appendingPathComponent("certs")
                try FileManager.default.createDirectory(at: certs, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: tls.caCertificate, toPath: certs.appendingPathComponent("ca.crt").path)
                try buildah.buildah([
                    "push", "--cert-dir", certs.path, "--creds", "\(user):\(password)", buildah.baseImage,
                    "docker://\(source.address)/tripleomaster/centos-binary-nova-compute:current-tripleo",
                ])
                return Fixture(buildah: buildah, source: source, destination: destination, tls: tls, tlsDirectory: tlsDirectory)
            } catch {
                for server in started { server.stop() }
                buildah.remove()
                try? FileManager.default.removeItem(at: tlsDirectory)
                throw error
            }
        }
    }

    override class func tearDown() {
        if let fixture = try? fixture?.get() {
            fixture.source.stop()
            fixture.destination.stop()
            fixture.buildah.remove()
            try? FileManager.default.removeItem(at: fixture.tlsDirectory)
        }
        RPMFixtures.remove()
    }

    func write(_ text: String, _ name: String, in directory: URL) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func buildahOptions(_ buildah: BuildahFixture, work: URL) -> [String] {
        [
            "--storage-driver", "vfs", "--isolation", "chroot", "--buildah-root", buildah.root,
            "--buildah-runroot", buildah.runRoot, "--work-dir", work.path, "--no-cache",
        ]
    }

    func files(under directory: URL) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        return (enumerator?.allObjects as? [String]) ?? []
    }

    // MARK: Logins buildah shares

    func testAHotfixOnABaseBehindALoginAndAPrivateCA() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, destination, buildah) = (fixture.source, fixture.destination, fixture.buildah)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let rpms = work.appendingPathComponent("nova-hotfix-pkgs")
        try FileManager.default.createDirectory(at: rpms, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try RPMFixtures.build().new, toPath: rpms.appendingPathComponent("hotfix.rpm").path)
        let template = try write(
            """
            container_images_template:
            - imagename: "{{namespace}}/{{name_prefix}}nova-compute{{name_suffix}}:{{tag}}"
              image_source: kolla
              params: [DockerNovaComputeImage]
            """, "containers.yaml.j2", in: work)
        let env = try write(
            """
            parameter_defaults:
              ContainerImageRegistryCredentials:
                \(source.address):
                  \(Self.user): \(Self.password)
              ContainerImagePrepare:
              - push_destination: \(destination.address)
                set: {namespace: \(source.address)/tripleomaster, name_prefix: centos-binary-, tag: current-tripleo}
                modify_role: tripleo-modify-image
                modify_append_tag: -hotfix
                modify_vars:
                  tasks_from: rpm_install.yml
                  rpms_path: \(rpms.path)
            """, "prepare.yaml", in: work)
        let output = work.appendingPathComponent("images-env.yaml")
        let run = try CLI.run(
            ["prepare", "-e", env, "--template-file", template, "--output-env-file", output.path,
             "--ca-cert", fixture.tls.caCertificate, "--keep-build-dir"] + buildahOptions(buildah, work: work))
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("built   \(destination.address)/tripleomaster/centos-binary-nova-compute:current-tripleo-hotfix (rpm_install.yml, buildah"), run.stderr)
        XCTAssertFalse((run.stdout + run.stderr).contains(Self.password))

        // buildah was given the logins and the CA as files, never the password.
        let logs = files(under: work).filter { $0.hasSuffix("buildah.log") }
        XCTAssertEqual(logs.count, 1, "\(files(under: work))")
        let log = try String(contentsOf: work.appendingPathComponent(try XCTUnwrap(logs.first)), encoding: .utf8)
        let commands = log.split(separator: "\n").filter { $0.hasPrefix("$ buildah") }
        let pull = try XCTUnwrap(commands.first { $0.contains(" pull ") }, log)
        XCTAssertTrue(pull.contains("--tls-verify=true") && pull.contains("--authfile ") && pull.contains("--cert-dir "), String(pull))
        XCTAssertTrue(commands.contains { $0.contains(" bud ") && $0.contains("--authfile ") }, log)
        XCTAssertFalse(log.contains(Self.password))
        // The auth file and the certificate directory are gone after the build.
        XCTAssertEqual(files(under: work).filter { $0.contains("registry-access") || $0.hasSuffix("auth.json") }, [])

        // The hotfix is in the image at the destination.
        let pulled = "\(destination.address)/tripleomaster/centos-binary-nova-compute:current-tripleo-hotfix"
        try buildah.buildah(["pull", "--tls-verify=false", pulled])
        XCTAssertEqual(try buildah.run(in: pulled, ["cat", "/usr/share/hotfix/VERSION"]), "hotfix 1.1 fixed\n")
    }
}
