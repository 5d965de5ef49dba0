import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// What an undercloud needs from buildah, with real buildah and real registries: a hotfix
/// whose base sits behind a login on a registry with a private CA, and locally built images
/// (`containers-storage:`) copied to the push destination.
final class UndercloudBuildahTests: XCTestCase {
    struct Fixture {
        var buildah: BuildahFixture
        /// TLS with a private CA and htpasswd auth.
        var source: RegistryServer
        var destination: RegistryServer
        /// The undercloud's registry: apache2 serving an image-serve directory.
        var imageServe: ImageServeServer
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
            var imageServe: ImageServeServer?
            let tlsDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-tls-\(UUID().uuidString)")
            do {
                let tls = try RegistryServer.makeTLSFiles(in: tlsDirectory)
                let source = try RegistryServer(auth: .htpasswd(user: user, password: password), tls: tls)
                started.append(source)
                let destination = try RegistryServer()
                started.append(destination)
                imageServe = try ImageServeServer()
                // containers-image reads CA certificates as *.crt files of a directory.
                let certs = tlsDirectory.appendingPathComponent("certs")
                try FileManager.default.createDirectory(at: certs, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: tls.caCertificate, toPath: certs.appendingPathComponent("ca.crt").path)
                try buildah.buildah([
                    "push", "--cert-dir", certs.path, "--creds", "\(user):\(password)", buildah.baseImage,
                    "docker://\(source.address)/tripleomaster/centos-binary-nova-compute:current-tripleo",
                ])
                return Fixture(buildah: buildah, source: source, destination: destination, imageServe: imageServe!, tls: tls,
                               tlsDirectory: tlsDirectory)
            } catch {
                for server in started { server.stop() }
                imageServe?.stop()
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
            fixture.imageServe.stop()
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
              DockerInsecureRegistryAddress: [\(destination.address)]
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
             "--ca-cert", fixture.tls.caCertificate, "--keep-build-dir", "--engine", "buildah"] + buildahOptions(buildah, work: work))
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

        // The same login from an --authfile, for one image: the operator's file stays.
        let login = Data("\(Self.user):\(Self.password)".utf8).base64EncodedString()
        let authFile = try write(#"{"auths": {"\#(source.address)": {"auth": "\#(login)"}}}"#, "auth.json", in: work)
        let modify = try CLI.run(
            ["modify", "\(source.address)/tripleomaster/centos-binary-nova-compute:current-tripleo",
             "\(destination.address)/tripleomaster/centos-binary-nova-compute:current-tripleo",
             "--tasks-from", "rpm_install", "--rpms-path", rpms.path, "--append-tag", "-hotfix2", "--authfile", authFile,
             "--ca-cert", fixture.tls.caCertificate, "--insecure-registry", destination.address, "--engine", "buildah"]
                + buildahOptions(buildah, work: work))
        XCTAssertEqual(modify.status, 0, modify.stderr)
        XCTAssertTrue(modify.stdout.hasPrefix("built \(destination.address)/tripleomaster/centos-binary-nova-compute:current-tripleo-hotfix2 (rpm_install.yml, buildah"), modify.stdout)
        XCTAssertFalse((modify.stdout + modify.stderr).contains(Self.password))
        XCTAssertTrue(FileManager.default.fileExists(atPath: authFile))
        XCTAssertEqual(files(under: work).filter { $0.contains("registry-access") }, [])
    }

    // MARK: Locally built images

    /// `mylocal/centos-binary-nova-api:myhotfix` in the fixture's storage (buildah names it
    /// `localhost/mylocal/...`): the base image plus one file and a label. Returns its ID.
    func buildLocalImage(_ buildah: BuildahFixture, work: URL) throws -> String {
        let container = try buildah.buildah(["from", "--pull-never", buildah.baseImage]).trimmingCharacters(in: .whitespacesAndNewlines)
        let file = try write("built on the undercloud\n", "local.txt", in: work)
        try buildah.buildah(["copy", container, file, "/etc/local.txt"])
        try buildah.buildah(["config", "--label", "rdo_version=local-1", container])
        try buildah.buildah(["commit", "--rm", container, "mylocal/centos-binary-nova-api:myhotfix"])
        return try buildah.buildah([
            "inspect", "--type", "image", "--format", "{{.FromImageID}}", "localhost/mylocal/centos-binary-nova-api:myhotfix",
        ]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func localEnvironment(destination: String, tag: String, extra: String = "", in work: URL) throws -> [String] {
        let template = try write(
            """
            container_images_template:
            - imagename: "{{namespace}}/{{name_prefix}}nova-api{{name_suffix}}:{{tag}}"
              image_source: kolla
              params: [DockerNovaApiImage, DockerNovaConfigImage]
            """, "containers.yaml.j2", in: work)
        let env = try write(
            """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: \(destination)
                includes: [nova-api]
                set: {namespace: 'containers-storage:mylocal', name_prefix: centos-binary-, tag: \(tag)}
            \(extra)
            """, "prepare-\(tag).yaml", in: work)
        return ["prepare", "-e", env, "--template-file", template, "--insecure-registry", destination]
    }

    func testALocallyBuiltImageIsCopiedFromContainersStorage() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (destination, buildah) = (fixture.destination, fixture.buildah)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let imageID = try buildLocalImage(buildah, work: work)
        let target = "\(destination.address)/mylocal/centos-binary-nova-api:myhotfix"

        // A dry run plans the seed's target and touches nothing.
        let before = try await destination.requests(after: 0).count
        let dry = try CLI.run(try localEnvironment(destination: destination.address, tag: "myhotfix", in: work) + ["--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertTrue(dry.stdout.contains("containers-storage:mylocal/centos-binary-nova-api:myhotfix  \(target)"), dry.stdout)
        let afterDry = try await destination.requests(after: 0).count
        XCTAssertEqual(afterDry, before)

        let output = work.appendingPathComponent("images-env.yaml")
        let run = try CLI.run(
            try localEnvironment(destination: destination.address, tag: "myhotfix", in: work)
                + ["--output-env-file", output.path] + buildahOptions(buildah, work: work))
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("copied  \(target) (from local container storage, image \(imageID.prefix(12))"), run.stderr)
        XCTAssertEqual(
            try String(contentsOf: output, encoding: .utf8),
            """
            parameter_defaults:
              DockerNovaApiImage: \(target)
              DockerNovaConfigImage: \(target)
              DockerInsecureRegistryAddress:
              - \(destination.address)

            """)
        // Pulled back from the registry: the very image of local storage (its config is the
        // image ID), with the file.
        let client = RegistryClient(configuration: .init(insecureRegistries: [destination.address]))
        let pushed = try await client.resolveImage(try Reference(target))
        XCTAssertEqual(pushed.manifest.config.digest.description, "sha256:\(imageID)")
        let config = try await client.fetchImageConfig(of: pushed, in: try Reference(target))
        XCTAssertEqual(config.labels["rdo_version"], "local-1")
        try buildah.buildah(["pull", "--tls-verify=false", target])
        XCTAssertEqual(try buildah.run(in: target, ["cat", "/etc/local.txt"]), "built on the undercloud\n")
        XCTAssertEqual(files(under: work).filter { $0.hasPrefix("local-") }, [], "the OCI layout hand-off is removed")

        // tag_from_label reads the local image's labels.
        let labelled = try CLI.run(
            try localEnvironment(destination: destination.address, tag: "myhotfix", extra: "    tag_from_label: rdo_version", in: work)
                + buildahOptions(buildah, work: work))
        XCTAssertEqual(labelled.status, 0, labelled.stderr)
        XCTAssertTrue(labelled.stdout.contains("DockerNovaApiImage: \(destination.address)/mylocal/centos-binary-nova-api:local-1"), labelled.stdout)

        // The same image to the undercloud's image-serve registry: written into its directory
        // and served by apache2 with the local image's own config.
        let imageServe = fixture.imageServe
        let served = "\(imageServe.address)/mylocal/centos-binary-nova-api:myhotfix"
        let toImageServe = try CLI.run(
            try localEnvironment(destination: imageServe.address, tag: "myhotfix", in: work)
                + ["--image-serve-dir", imageServe.root.path] + buildahOptions(buildah, work: work))
        XCTAssertEqual(toImageServe.status, 0, toImageServe.stderr)
        XCTAssertTrue(toImageServe.stderr.contains("\(imageServe.address) is an image-serve registry"), toImageServe.stderr)
        let fromImageServe = RegistryClient(configuration: .init(insecureRegistries: [imageServe.address]))
        let servedImage = try await fromImageServe.resolveImage(try Reference(served))
        XCTAssertEqual(servedImage.manifest.config.digest.description, "sha256:\(imageID)")
        XCTAssertEqual(servedImage.taggedDigest, pushed.taggedDigest, "the same manifest bytes as at the registry")
    }

    func testAMissingLocalImageAndModifyingOneAreClearErrors() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (destination, buildah) = (fixture.destination, fixture.buildah)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }

        let missing = try CLI.run(
            try localEnvironment(destination: destination.address, tag: "nothere", in: work) + buildahOptions(buildah, work: work))
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(
            missing.stderr.contains(
                "  containers-storage:mylocal/centos-binary-nova-api:nothere: read local container storage: no image "
                    + "mylocal/centos-binary-nova-api:nothere (nor localhost/mylocal/centos-binary-nova-api:nothere) "
                    + "in local container storage at \(buildah.root)"), missing.stderr)

        let modify = try CLI.run(
            try localEnvironment(
                destination: destination.address, tag: "myhotfix",
                extra: "    modify_role: tripleo-modify-image\n    modify_vars: {tasks_from: yum_update.yml}", in: work)
                + ["--dry-run"])
        XCTAssertEqual(modify.status, 1)
        XCTAssertTrue(
            modify.stderr.hasPrefix(
                "Error: \(work.path)/prepare-myhotfix.yaml: ContainerImagePrepare[0].modify_role: "
                    + "containers-storage:mylocal/centos-binary-nova-api:myhotfix is a locally built image"), modify.stderr)

        let oneImage = try CLI.run(
            ["modify", "containers-storage:mylocal/centos-binary-nova-api:myhotfix", "\(destination.address)/mylocal/x:1",
             "--tasks-from", "yum_update"])
        XCTAssertEqual(oneImage.status, 1)
        XCTAssertTrue(oneImage.stderr.contains("a locally built image is not modified"), oneImage.stderr)
    }
}
