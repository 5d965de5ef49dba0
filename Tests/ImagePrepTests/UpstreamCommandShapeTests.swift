import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// The image commands in the shapes upstream's `openstack tripleo container image` commands
/// have, which operators' scripts rely on (issue 22 §3): `image list` without a registry lists
/// the undercloud's, `--username/--password`, `image inspect --format tripleo` (compared with
/// tripleo-common's own `inspect`), `image delete` asking on a terminal, `image copy
/// --append-tag`. One real docker-registry with htpasswd auth on 127.0.0.3:8787, the
/// undercloud registry's port, made once for the class.
final class UpstreamCommandShapeTests: XCTestCase {
    static let (user, password) = ("operator", "s3cret-Pa55")

    struct Fixture: @unchecked Sendable {
        let registry: RegistryServer
        let work: URL
        /// A hosts file naming `<short hostname>.ctlplane` as 127.0.0.3, bound over /etc/hosts
        /// in a private mount namespace for the runs that look the undercloud registry up.
        let hosts: URL
        let ctlplane: String
        let image: String
        let labels: [String: String]
        let layers: [Descriptor]
    }

    nonisolated(unsafe) static var fixture: Result<Fixture, any Error>?

    override class func setUp() {
        fixture = Result { try makeFixture() }
    }

    override class func tearDown() {
        if let fixture = try? fixture?.get() {
            fixture.registry.stop()
            try? FileManager.default.removeItem(at: fixture.work)
        }
    }

    static func makeFixture() throws -> Fixture {
        let registry = try RegistryServer(auth: .htpasswd(user: user, password: password), host: "127.0.0.3", port: 8787)
        let work = try CLI.temporaryDirectory()
        let short = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let ctlplane = "\(short).ctlplane"
        let hosts = work.appendingPathComponent("hosts")
        try "127.0.0.1 localhost\n127.0.0.3 \(ctlplane)\n".write(to: hosts, atomically: true, encoding: .utf8)
        let labels = ["name": "keystone", "rdo_version": "1.0-test", "vendor": "imageprep tests"]
        let image = "\(registry.address)/tripleomaster/centos-binary-keystone"
        let layers = try runBlocking {
            let client = RegistryClient(configuration: RegistryClient.Configuration(
                credentials: try CredentialStore(userPasswords: [registry.address: (user, password)]),
                insecureRegistries: [registry.address]))
            let reference = try Reference("\(image):current-tripleo")
            var layers: [Descriptor] = []
            for content in ["first layer", "second layer"] {
                layers.append(try await client.pushBlob(Data(content.utf8), mediaType: .dockerLayer, to: reference))
            }
            let config = try JSONSerialization.data(withJSONObject: [
                "architecture": "amd64", "os": "linux", "created": "2026-11-30T10:00:00Z", "docker_version": "1.13.1",
                "config": ["Env": ["PATH=/usr/bin:/bin", "KOLLA_BASE_DISTRO=centos"], "Labels": labels, "User": "keystone"],
                "rootfs": ["type": "layers", "diff_ids": layers.map(\.digest.description)],
            ], options: [.sortedKeys])
            let configDescriptor = try await client.pushBlob(config, mediaType: .dockerConfig, to: reference)
            let manifest = try JSONEncoder().encode(Manifest(config: configDescriptor, layers: layers))
            for tag in ["current-tripleo", "1.0-test"] {
                try await client.pushManifest(manifest, mediaType: .dockerManifest, to: try Reference("\(image):\(tag)"))
            }
            return layers
        }
        return Fixture(registry: registry, work: work, hosts: hosts, ctlplane: ctlplane, image: image, labels: labels, layers: layers)
    }

    /// Pushes a one-layer image of its own as `fixture.image:tag`.
    static func push(_ fixture: Fixture, tag: String, content: String) throws {
        try runBlocking {
            let client = RegistryClient(configuration: RegistryClient.Configuration(
                credentials: try CredentialStore(userPasswords: [fixture.registry.address: (user, password)]),
                insecureRegistries: [fixture.registry.address]))
            let reference = try Reference("\(fixture.image):\(tag)")
            let layer = try await client.pushBlob(Data(content.utf8), mediaType: .dockerLayer, to: reference)
            let config = try await client.pushBlob(
                Data(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8), mediaType: .dockerConfig, to: reference)
            try await client.pushManifest(try JSONEncoder().encode(Manifest(config: config, layers: [layer])), mediaType: .dockerManifest, to: reference)
        }
    }

    var credentials: [String] { ["--username", Self.user, "--password", Self.password] }

    /// Runs `imageprep ARGUMENTS` with `hosts` as /etc/hosts, in a mount namespace of its own.
    func runWithHosts(_ fixture: Fixture, _ arguments: [String]) throws -> CLI.Output {
        let command = "mount --bind '\(fixture.hosts.path)' /etc/hosts && exec \(CLI.shellCommand(arguments))"
        return try CLI.runProcess(URL(fileURLWithPath: "/usr/bin/unshare"), ["--mount", "--propagation", "private", "/bin/sh", "-c", command])
    }

    func testImageListWithoutARegistryListsTheUndercloudRegistry() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let listed = try runWithHosts(fixture, ["image", "list"] + credentials)
        XCTAssertEqual(listed.status, 0, listed.stderr)
        print("image list: \(listed.stdout)\(listed.stderr)")
        let undercloud = "\(fixture.ctlplane):8787"
        XCTAssertEqual(listed.stdout, """
            \(undercloud)/tripleomaster/centos-binary-keystone:1.0-test
            \(undercloud)/tripleomaster/centos-binary-keystone:current-tripleo

            """)
        // The password on the command line is warned about, and never shown.
        XCTAssertTrue(listed.stderr.contains("warning: --password is visible to other users"), listed.stderr)
        XCTAssertFalse((listed.stdout + listed.stderr).contains(Self.password))

        // Without credentials the registry refuses, and the error says where to put them.
        let refused = try runWithHosts(fixture, ["image", "list"])
        XCTAssertEqual(refused.status, 1, refused.stdout)
        XCTAssertTrue(refused.stderr.contains(undercloud), refused.stderr)
        XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, refused.stderr)

        // Upstream's option name, and a half-given login, refused before anything runs.
        let named = try CLI.run(["image", "list", "--registry-url", fixture.registry.address] + credentials)
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertTrue(named.stdout.hasPrefix("\(fixture.registry.address)/tripleomaster/centos-binary-keystone:1.0-test\n"), named.stdout)
        let half = try CLI.run(["image", "list", "--registry", fixture.registry.address, "--username", Self.user])
        XCTAssertEqual(half.status, 2)
        XCTAssertTrue(half.stderr.contains("--username and --password go together"), half.stderr)
    }

    /// `--format tripleo` prints what tripleo-common 18.0.0's `inspect` returns, key for key,
    /// in the order `openstack tripleo container image show` prints it, plus `Env`.
    func testInspectFormatTripleoMatchesUpstreamShow() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let image = "\(fixture.image):current-tripleo"
        let shown = try CLI.run(["image", "inspect", "--format", "tripleo", image] + credentials)
        XCTAssertEqual(shown.status, 0, shown.stderr)
        print("image inspect --format tripleo: \(shown.stdout)")
        let keys = shown.stdout.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        XCTAssertEqual(keys, ["Name", "Architecture", "Created", "Digest", "DockerVersion", "Env", "Labels", "Layers", "Os", "RepoTags", "Tag"])
        let ours = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(ours["Env"] as? [String], ["PATH=/usr/bin:/bin", "KOLLA_BASE_DISTRO=centos"])
        XCTAssertEqual(ours["Layers"] as? [String], fixture.layers.map(\.digest.description))

        // tripleo-common's own inspect of the same image, through its session and login.
        let script = """
            import json, sys
            from urllib import parse
            from tripleo_common.image import image_uploader
            uploader = image_uploader.PythonImageUploader()
            url = uploader._image_to_url(sys.argv[1])
            session = uploader.authenticate(url, username=sys.argv[2], password=sys.argv[3])
            result = uploader.inspect(sys.argv[1], session=session)
            print(json.dumps(result))
            """
        let upstream = try CLI.runProcess(try UpstreamVenv.python(), ["-c", script, image, Self.user, Self.password])
        XCTAssertEqual(upstream.status, 0, upstream.stderr)
        var theirs = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(upstream.stdout.utf8)) as? [String: Any])
        theirs["Env"] = ours["Env"]
        XCTAssertEqual(Set(theirs.keys), Set(ours.keys))
        for key in theirs.keys {
            switch (theirs[key], ours[key]) {
            case (let a as [String: String], let b as [String: String]): XCTAssertEqual(a, b, key)
            case (let a as [String], let b as [String]): XCTAssertEqual(a, b, key)
            case (let a as String, let b as String): XCTAssertEqual(a, b, key)
            default: XCTFail("\(key): upstream \(String(describing: theirs[key])), imageprep \(String(describing: ours[key]))")
            }
        }
        XCTAssertEqual(ours["Labels"] as? [String: String], fixture.labels)
        XCTAssertEqual(ours["RepoTags"] as? [String], ["1.0-test", "current-tripleo"])
    }

    /// On a terminal, delete asks first; no is no; -y and a run without a terminal delete.
    func testImageDeleteAsksOnATerminalUnlessYes() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let insecure = ["--insecure-registry", fixture.registry.address]
        // Each its own manifest: a registry deletes a manifest with every tag on it.
        func copy(_ tag: String) throws {
            try Self.push(fixture, tag: tag, content: "only in \(tag)")
        }
        func onTerminal(_ arguments: [String], answering answer: String) throws -> CLI.Output {
            let answers = fixture.work.appendingPathComponent("answer")
            try answer.write(to: answers, atomically: true, encoding: .utf8)
            // `script` gives the run a terminal and types the answer file into it.
            let command = "/usr/bin/script -qfec \(Self.quoted(CLI.shellCommand(arguments))) /dev/null < \(Self.quoted(answers.path))"
            return try CLI.runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", command])
        }
        func exists(_ tag: String) throws -> Bool {
            try CLI.run(["image", "inspect", "\(fixture.image):\(tag)"] + credentials + insecure).status == 0
        }
        try copy("delete-me")
        let declined = try onTerminal(["image", "delete", "\(fixture.image):delete-me"] + credentials + insecure, answering: "n\n")
        XCTAssertNotEqual(declined.status, 0, declined.stdout)
        XCTAssertTrue(declined.stdout.contains("[y/N]?"), declined.stdout)
        print("image delete on a terminal: \(declined.stdout)")
        XCTAssertTrue(declined.stdout.contains("not confirmed: nothing was deleted"), declined.stdout)
        XCTAssertTrue(try exists("delete-me"))

        let confirmed = try onTerminal(["image", "delete", "\(fixture.image):delete-me"] + credentials + insecure, answering: "y\n")
        XCTAssertEqual(confirmed.status, 0, confirmed.stdout)
        XCTAssertTrue(confirmed.stdout.contains("deleted \(fixture.image):delete-me (sha256:"), confirmed.stdout)
        XCTAssertFalse(try exists("delete-me"))

        try copy("delete-me-too")
        let unasked = try onTerminal(["image", "delete", "-y", "\(fixture.image):delete-me-too"] + credentials + insecure, answering: "")
        XCTAssertEqual(unasked.status, 0, unasked.stdout)
        XCTAssertFalse(unasked.stdout.contains("[y/N]?"), unasked.stdout)
        XCTAssertFalse(try exists("delete-me-too"))
        // No terminal: nothing to ask, as in scripts.
        try copy("delete-me-three")
        let scripted = try CLI.run(["image", "delete", "\(fixture.image):delete-me-three"] + credentials + insecure)
        XCTAssertEqual(scripted.status, 0, scripted.stderr)
        XCTAssertFalse(try exists("delete-me-three"))
    }

    /// `--append-tag` as upstream's push; the source's login apart from the destination's.
    func testImageCopyAppendsTheTagWithSourceCredentialsApart() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let destination = try RegistryServer()
        defer { destination.stop() }
        let target = "\(destination.address)/tripleomaster/centos-binary-keystone:1.0-test"
        let copied = try CLI.run([
            "image", "copy", "\(fixture.image):1.0-test", target, "--append-tag=-hotfix",
            "--source-username", Self.user, "--source-password", Self.password,
            "--insecure-registry", destination.address,
        ])
        XCTAssertEqual(copied.status, 0, copied.stderr)
        XCTAssertTrue(copied.stdout.hasPrefix("copied \(target)-hotfix sha256:"), copied.stdout)
        XCTAssertTrue(destination.requests().contains("PUT /v2/tripleomaster/centos-binary-keystone/manifests/1.0-test-hotfix"))
        XCTAssertFalse((copied.stdout + copied.stderr).contains(Self.password))

        let bad = try CLI.run(["image", "copy", "\(fixture.image):1.0-test", target, "--append-tag=-hot fix"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--append-tag '-hot fix': expected letters, digits"), bad.stderr)
    }

    static func quoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
