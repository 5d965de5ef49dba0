import Foundation
import ImagePrepTestSupport
import XCTest

/// rpm_install through the layer engine against buildah on the same base and RPMs, with real
/// registries on 127.0.0.1, real rpmbuild and real buildah: the same file tree apart from the
/// rpm database's internals, the same `rpm -qa`, `rpm -V` clean, and no base layer downloaded
/// except the one holding the rpm database.
final class RPMLayerEngineTests: XCTestCase {
    struct Setup {
        var fixture: ModificationFixture
        var rpms: URL
        /// The base with hf 1.0 installed (by rpm in the image), in the source registry.
        var base: String
    }

    nonisolated(unsafe) static var setup: Result<Setup, any Error>?

    static func spec(_ name: String, version: String, files: [(path: String, content: String?)], extra: String = "") -> String {
        var install = "mkdir -p %{buildroot}/usr/share/\(name)/sub %{buildroot}/usr/bin\n"
        var list = "%dir /usr/share/\(name)\n%dir /usr/share/\(name)/sub\n"
        for file in files {
            if let content = file.content {
                install += "printf '\(content)' > %{buildroot}\(file.path)\n"
            } else {
                install += "ln -s VERSION %{buildroot}\(file.path)\n"
            }
            list += file.path + "\n"
        }
        return """
            Name: \(name)
            Version: \(version)
            Release: 1
            Summary: imageprep layer-engine test package \(name)
            License: MIT
            BuildArch: noarch
            AutoReqProv: no

            %description
            A package for imageprep's tests.

            %install
            \(install)
            chmod 0755 %{buildroot}/usr/bin/\(name) 2>/dev/null || true

            %files
            \(list)
            \(extra)
            """
    }

    override class func setUp() {
        setup = Result {
            let fixture = try ModificationFixture(seeding: [])
            do {
                let rpms = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-rpmlayer-\(UUID().uuidString.prefix(8))")
                try FileManager.default.createDirectory(at: rpms, withIntermediateDirectories: true)
                let old = try RPMFixtures.rpmbuild(
                    spec: spec("hf", version: "1.0", files: [
                        ("/usr/share/hf/VERSION", "1.0\\n"), ("/usr/share/hf/OLD", "only in 1.0\\n"), ("/usr/share/hf/CURRENT", nil),
                        ("/usr/bin/hf", "#!/bin/sh\\necho 1.0\\n"),
                    ]), name: "hf", in: rpms)
                // The base: hf 1.0 installed by the image's own rpm, on top of the rpm base.
                let buildah = fixture.buildah
                let container = try buildah.buildah(["from", "--pull-never", buildah.baseImage]).trimmingCharacters(in: .whitespacesAndNewlines)
                try buildah.buildah(["copy", container, old, "/tmp/hf.rpm"])
                try buildah.buildah(["run", "--isolation", "chroot", "--user", "root", container, "--", "/usr/bin/rpm", "-U", "/tmp/hf.rpm"])
                try buildah.buildah(["run", "--isolation", "chroot", "--user", "root", container, "--", "rm", "/tmp/hf.rpm"])
                try buildah.buildah(["commit", "--rm", container, "localhost/imageprep-test/hf-base:1"])
                try FileManager.default.removeItem(atPath: old)
                let base = "\(fixture.source.address)/tripleomaster/centos-binary-nova-api:current-tripleo"
                try buildah.buildah(["push", "--tls-verify=false", "localhost/imageprep-test/hf-base:1", "docker://\(base)"])
                return Setup(fixture: fixture, rpms: rpms, base: base)
            } catch {
                fixture.stop()
                throw error
            }
        }
    }

    override class func tearDown() {
        if let setup = try? setup?.get() {
            setup.fixture.stop()
            try? FileManager.default.removeItem(at: setup.rpms)
        }
    }

    private func hotfixes(_ specs: [(name: String, spec: String)], in work: URL) throws -> URL {
        let directory = work.appendingPathComponent("hotfixes-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, spec) in specs { _ = try RPMFixtures.rpmbuild(spec: spec, name: name, in: directory) }
        return directory
    }

    private func modify(
        _ setup: Setup, source: String, target: String, rpms: URL, engine: String, appendTag: String, work: URL
    ) throws -> CLI.Output {
        let fixture = setup.fixture
        return try CLI.run([
            "modify", source, target, "--tasks-from", "rpm_install", "--rpms-path", rpms.path, "--append-tag", appendTag,
            "--engine", engine, "--storage-driver", "vfs", "--isolation", "chroot", "--buildah-root", fixture.buildah.root,
            "--buildah-runroot", fixture.buildah.runRoot, "--work-dir", work.path,
            "--insecure-registry", fixture.source.address, "--insecure-registry", fixture.destination.address,
        ])
    }

    func testLayerEngineInstallsRPMsAsBuildahDoesWithoutDownloadingTheBase() async throws {
        let setup = try XCTUnwrap(Self.setup).get()
        let (fixture, buildah) = (setup.fixture, setup.fixture.buildah)
        let destination = fixture.destination
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let insecure = ["--insecure-registry", fixture.source.address, "--insecure-registry", destination.address]

        // hf 1.1 drops OLD and changes the rest; hf-extra is new to the image.
        let rpms = try hotfixes([
            ("hf", Self.spec("hf", version: "1.1", files: [
                ("/usr/share/hf/VERSION", "1.1 fixed\\n"), ("/usr/share/hf/NEW", "new in 1.1\\n"), ("/usr/share/hf/CURRENT", nil),
                ("/usr/bin/hf", "#!/bin/sh\\necho 1.1\\n"),
            ])),
            ("hf-extra", Self.spec("hf-extra", version: "2.0", files: [("/usr/share/hf-extra/VERSION", "2.0\\n")])),
        ], in: work)

        // The base at the destination, as after a mirror.
        let mirrored = "\(destination.address)/hotfixes/nova-api:current"
        XCTAssertEqual(try CLI.run(["image", "copy", setup.base, mirrored] + insecure).status, 0)
        let inspected = try CLI.run(["image", "inspect", mirrored] + insecure)
        let baseLayers = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any])?["layers"] as? [[String: Any]]
        ).compactMap { $0["digest"] as? String }
        XCTAssertEqual(baseLayers.count, 2, "the rpm base and the layer rpm wrote hf 1.0 in")

        let before = try await destination.requests(after: 0).count
        let layered = try modify(setup, source: mirrored, target: mirrored, rpms: rpms, engine: "layer", appendTag: "-layer", work: work)
        XCTAssertEqual(layered.status, 0, layered.stderr)
        XCTAssertTrue(
            layered.stdout.hasPrefix("built \(mirrored)-layer (rpm_install.yml, layer engine, hf-1.1-1.noarch, hf-extra-2.0-1.noarch installed, 1 layer of "),
            layered.stdout)
        XCTAssertTrue(layered.stdout.contains(", 1 old file(s) whited out; base layers: 2 present, 0 mounted, 0 copied (0 B))"), layered.stdout)
        // Only the layer holding the rpm database (the top one) was read.
        let requests = try await destination.requests(after: before)
        XCTAssertFalse(requests.contains { $0.hasPrefix("GET ") && $0.hasSuffix("/blobs/\(baseLayers[0])") }, "\(requests)")
        XCTAssertEqual(requests.filter { $0.hasPrefix("GET ") && $0.hasSuffix("/blobs/\(baseLayers[1])") }.count, 1, "\(requests)")

        let built = try modify(setup, source: mirrored, target: mirrored, rpms: rpms, engine: "buildah", appendTag: "-buildah", work: work)
        XCTAssertEqual(built.status, 0, built.stderr)
        XCTAssertTrue(built.stdout.hasPrefix("built \(mirrored)-buildah (rpm_install.yml, buildah, "), built.stdout)

        // The same files either way, apart from the rpm database's own files.
        let layerImage = "\(mirrored)-layer"
        let buildahImage = "\(mirrored)-buildah"
        let layerTree = try buildah.fileTree(of: layerImage).filter { !$0.key.hasPrefix("/var/lib/rpm/") }
        let buildahTree = try buildah.fileTree(of: buildahImage).filter { !$0.key.hasPrefix("/var/lib/rpm/") }
        XCTAssertNil(layerTree["/usr/share/hf/OLD"], "the replaced version's file is whited out")
        XCTAssertEqual(layerTree["/usr/share/hf/CURRENT"], "link 0:0 -> VERSION")
        XCTAssertEqual(layerTree["/usr/bin/hf"]?.hasPrefix("file 755 0:0 "), true, layerTree["/usr/bin/hf"] ?? "missing")
        XCTAssertEqual(layerTree["/usr/share/hf/sub"], "dir 755 0:0")
        for path in Set(layerTree.keys).union(buildahTree.keys).sorted() where layerTree[path] != buildahTree[path] {
            XCTFail("\(path): layer engine \(layerTree[path] ?? "missing"), buildah \(buildahTree[path] ?? "missing")")
        }

        // rpm in the image agrees: the same packages, and the hotfixed ones verify clean.
        let layerPackages = try buildah.run(in: layerImage, user: "root", ["rpm", "-qa"])
        let buildahPackages = try buildah.run(in: buildahImage, user: "root", ["rpm", "-qa"])
        XCTAssertEqual(Set(layerPackages.split(separator: "\n")), ["hf-1.1-1.noarch", "hf-extra-2.0-1.noarch"])
        XCTAssertEqual(Set(layerPackages.split(separator: "\n")), Set(buildahPackages.split(separator: "\n")))
        XCTAssertEqual(try buildah.run(in: layerImage, user: "root", ["rpm", "-V", "hf", "hf-extra"]), "")

        // The config: the label, the user kept, a history entry.
        let inspect = try buildah.buildah(["inspect", "--type", "image", layerImage])
        let oci = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [String: Any])?["OCIv1"] as? [String: Any])
        let config = try XCTUnwrap(oci["config"] as? [String: Any])
        XCTAssertEqual((config["Labels"] as? [String: String])?["modified_append_tag"], "-layer")
        XCTAssertEqual(config["User"] as? String, "nova")
        let history = try XCTUnwrap(oci["history"] as? [[String: Any]])
        XCTAssertEqual(history.last?["created_by"] as? String, "imageprep layer engine: rpm -U --justdb hf-1.1-1.noarch hf-extra-2.0-1.noarch")
    }

    func testScriptletsGoToBuildahAndUnmetDependenciesFail() throws {
        let setup = try XCTUnwrap(Self.setup).get()
        let destination = setup.fixture.destination
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let withPost = try hotfixes([
            ("hf", Self.spec("hf", version: "1.2", files: [("/usr/share/hf/VERSION", "1.2\\n")], extra: "%post -p <lua>\nprint(\"post\")\n")),
        ], in: work)
        let target = "\(destination.address)/hotfixes/nova-api:scripted"

        // --engine layer refuses, naming the RPM and the scriptlet, and pushes nothing.
        let refused = try modify(setup, source: setup.base, target: target, rpms: withPost, engine: "layer", appendTag: "-l", work: work)
        XCTAssertEqual(refused.status, 1, refused.stdout)
        XCTAssertTrue(
            refused.stderr.contains("hf-1.2-1.noarch.rpm has a %post scriptlet, which only rpm in the image can run: use --engine auto or buildah"),
            refused.stderr)
        // --engine auto gives it to buildah and says why.
        let auto = try modify(setup, source: setup.base, target: target, rpms: withPost, engine: "auto", appendTag: "-a", work: work)
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertTrue(
            auto.stdout.hasPrefix("built \(target)-a (rpm_install.yml, buildah (hf-1.2-1.noarch.rpm has a %post scriptlet, which only rpm in the image can run), "),
            auto.stdout)

        // An RPM whose dependencies the image lacks fails as it does in buildah, with rpm's reason.
        let needy = try hotfixes([
            ("needy", Self.spec("needy", version: "1.0", files: [("/usr/share/needy/VERSION", "1\\n")]).replacingOccurrences(
                of: "AutoReqProv: no", with: "AutoReqProv: no\nRequires: imageprep-no-such-package")),
        ], in: work)
        let failed = try modify(setup, source: setup.base, target: target, rpms: needy, engine: "auto", appendTag: "-n", work: work)
        XCTAssertEqual(failed.status, 1, failed.stdout)
        XCTAssertTrue(failed.stderr.contains("imageprep-no-such-package is needed by needy-1.0-1.noarch"), failed.stderr)
    }
}
