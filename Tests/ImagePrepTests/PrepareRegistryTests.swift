import Foundation
import ImagePrep
import ImagePrepTestSupport
import XCTest

/// `imageprep prepare` for real: tag discovery, copies and an rpm_install
/// modification, against two real registries on 127.0.0.1 and real buildah.
final class PrepareRegistryTests: XCTestCase {
    nonisolated(unsafe) static var fixture: Result<ModificationFixture, any Error>?

    override class func setUp() {
        fixture = Result {
            try ModificationFixture(seeding: ["tripleomaster/centos-binary-nova-compute", "tripleomaster/centos-binary-keystone"])
        }
    }

    override class func tearDown() {
        try? fixture?.get().stop()
        RPMFixtures.remove()
    }

    func testPrepareDiscoversTagsCopiesModifiesAndSkipsOnReRun() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, destination, buildah) = (fixture.source, fixture.destination, fixture.buildah)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }

        let rpms = work.appendingPathComponent("nova-hotfix-pkgs")
        try FileManager.default.createDirectory(at: rpms, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try RPMFixtures.build().new, toPath: rpms.appendingPathComponent("hotfix.rpm").path)

        let template = work.appendingPathComponent("containers.yaml.j2")
        try """
            container_images_template:
            - imagename: "{{namespace}}/{{name_prefix}}keystone{{name_suffix}}:{{tag}}"
              image_source: kolla
              params: [DockerKeystoneImage]
              services: [OS::TripleO::Services::Keystone]
            - imagename: "{{namespace}}/{{name_prefix}}nova-compute{{name_suffix}}:{{tag}}"
              image_source: kolla
              params: [DockerNovaComputeImage]
              services: [OS::TripleO::Services::NovaCompute]
            """.write(to: template, atomically: true, encoding: .utf8)
        let env = work.appendingPathComponent("containers-prepare-parameter.yaml")
        try """
            parameter_defaults:
              DockerInsecureRegistryAddress: [\(source.address), \(destination.address)]
              ContainerImagePrepare:
              - push_destination: \(destination.address)
                tag_from_label: rdo_version
                excludes: [nova-compute]
                set: {namespace: \(source.address)/tripleomaster, name_prefix: centos-binary-, tag: current-tripleo}
              - push_destination: \(destination.address)
                tag_from_label: rdo_version
                includes: [nova-compute]
                set: {namespace: \(source.address)/tripleomaster, name_prefix: centos-binary-, tag: current-tripleo}
                modify_role: tripleo-modify-image
                modify_append_tag: -hotfix
                modify_vars:
                  tasks_from: rpm_install.yml
                  rpms_path: \(rpms.path)
            """.write(to: env, atomically: true, encoding: .utf8)
        let output = work.appendingPathComponent("images-env.yaml")
        let arguments = [
            "prepare", "-e", env.path, "--template-file", template.path, "--output-env-file", output.path,
            "--storage-driver", "vfs", "--isolation", "chroot", "--buildah-root", buildah.root, "--buildah-runroot", buildah.runRoot,
            "--work-dir", work.path, "--cache-dir", work.appendingPathComponent("cache").path,
        ]

        let first = try CLI.run(arguments)
        XCTAssertEqual(first.status, 0, first.stderr)
        let expected = """
            parameter_defaults:
              DockerKeystoneImage: \(destination.address)/tripleomaster/centos-binary-keystone:1.0-test
              DockerNovaComputeImage: \(destination.address)/tripleomaster/centos-binary-nova-compute:1.0-test-hotfix
              DockerInsecureRegistryAddress:
            \([source.address, destination.address].sorted().map { "  - \($0)" }.joined(separator: "\n"))

            """
        XCTAssertEqual(try String(contentsOf: output, encoding: .utf8), expected)
        XCTAssertTrue(first.stderr.contains("1 image(s) copied or already present, 1 modified, 0 failed."), first.stderr)

        // The modified image at the destination: hotfix installed, user and
        // labels kept, the append tag recorded.
        let pulled = "\(destination.address)/tripleomaster/centos-binary-nova-compute:1.0-test-hotfix"
        try buildah.buildah(["pull", "--tls-verify=false", pulled])
        XCTAssertEqual(try buildah.run(in: pulled, ["rpm", "-q", "hotfix"]).trimmingCharacters(in: .whitespacesAndNewlines), "hotfix-1.1-2.noarch")
        XCTAssertEqual(try buildah.run(in: pulled, ["cat", "/usr/share/hotfix/VERSION"]), "hotfix 1.1 fixed\n")
        XCTAssertEqual(
            try buildah.buildah(["inspect", "--type", "image", "--format", "{{.OCIv1.Config.User}}", pulled]).trimmingCharacters(in: .whitespacesAndNewlines),
            "nova")
        let labels = try buildah.buildah(["inspect", "--type", "image", "--format", "{{.OCIv1.Config.Labels}}", pulled])
        XCTAssertTrue(labels.contains("modified_append_tag:-hotfix") && labels.contains("rdo_version:1.0-test"), labels)
        // The package inventory, read from the registry: the hotfix is in the
        // modified image; layers shared with other images are read once.
        let packages = try CLI.run(["image", "packages", pulled, "--insecure-registry", destination.address])
        XCTAssertEqual(packages.status, 0, packages.stderr)
        XCTAssertEqual(packages.stdout, "hotfix-3:1.1-2.noarch\n")
        var options = RegistryOptions()
        options.insecureRegistries = [source.address, destination.address]
        let inventory = try PackageInventory(options: options)
        let keystone = try await inventory.packages(of: "\(destination.address)/tripleomaster/centos-binary-keystone:1.0-test")
        XCTAssertEqual(keystone, [], "the base image's rpm database is empty")
        let hotfixed = try await inventory.packages(of: pulled)
        XCTAssertEqual(hotfixed.map(\.nevra), ["hotfix-3:1.1-2.noarch"])
        _ = try await inventory.packages(of: "\(source.address)/tripleomaster/centos-binary-nova-compute:current-tripleo")
        let layersRead = await inventory.layersRead
        XCTAssertEqual(layersRead, 2, "the shared base layer is read once")

        // The unmodified image was copied under its discovered tag.
        XCTAssertTrue(destination.requests().contains("PUT /v2/tripleomaster/centos-binary-keystone/manifests/1.0-test"))

        // A re-run rebuilds and copies nothing: one request per image at the
        // destination, besides one API version check for the run; at the source
        // only the manifests and each repository's tag list (the discovered
        // tag must exist there) are read, the image configs come from the cache.
        let before = destination.requests().count
        let sourceBefore = try await source.requests(after: 0).count
        let second = try CLI.run(arguments)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(try String(contentsOf: output, encoding: .utf8), expected)
        let rerun = destination.requests().dropFirst(before)
        XCTAssertLessThanOrEqual(rerun.filter { $0 == "GET /v2/" }.count, 1, "\(Array(rerun))")
        // One upload-session request for the run tells a registry from an image-serve
        // directory; the session is cancelled again.
        XCTAssertEqual(rerun.filter { $0.hasPrefix("POST ") && $0.hasSuffix("/blobs/uploads/") }.count, 1, "\(Array(rerun))")
        XCTAssertEqual(
            rerun.filter { $0 != "GET /v2/" && !$0.contains("/blobs/uploads/") }.sorted(),
            [
                "HEAD /v2/tripleomaster/centos-binary-keystone/manifests/1.0-test",
                "HEAD /v2/tripleomaster/centos-binary-nova-compute/manifests/1.0-test-hotfix",
            ])
        let sourceRerun = try await source.requests(after: sourceBefore)
        XCTAssertEqual(
            sourceRerun.filter { $0 != "GET /v2/" }.sorted(),
            [
                "GET /v2/tripleomaster/centos-binary-keystone/manifests/current-tripleo",
                "GET /v2/tripleomaster/centos-binary-keystone/tags/list?n=1000",
                "GET /v2/tripleomaster/centos-binary-nova-compute/manifests/current-tripleo",
                "GET /v2/tripleomaster/centos-binary-nova-compute/tags/list?n=1000",
            ])

        // A label that no image has fails those images, names them, and
        // leaves the env file as it was.
        /// Runs prepare on a copy of the environment with these replacements.
        func runVariant(_ name: String, _ replacements: [(String, String)]) throws -> CLI.Output {
            var text = try String(contentsOf: env, encoding: .utf8)
            for (old, new) in replacements { text = text.replacingOccurrences(of: old, with: new) }
            let variant = work.appendingPathComponent(name)
            try text.write(to: variant, atomically: true, encoding: .utf8)
            var variantArguments = arguments
            variantArguments[2] = variant.path
            return try CLI.run(variantArguments)
        }
        // A tag_from_label whose tag the source lacks fails those images, names
        // the tag and the available ones, and leaves the env file as it was.
        let failed = try runVariant("bad.yaml", [("tag_from_label: rdo_version", "tag_from_label: '{rdo_version}-rc'")])
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stderr.contains("2 image(s) failed; no output file was written"), failed.stderr)
        XCTAssertTrue(
            failed.stderr.contains(
                "image \(source.address)/tripleomaster/centos-binary-keystone has no tag 1.0-test-rc (from tag_from_label {rdo_version}-rc); available tags: 1.0-test, current-tripleo"),
            failed.stderr)
        XCTAssertEqual(try String(contentsOf: output, encoding: .utf8), expected)

        // A Dockerfile whose RUN fails: that image fails, the error names the
        // step and shows buildah's output, and no tag is made at the destination.
        let custom = work.appendingPathComponent("nova-custom")
        try FileManager.default.createDirectory(at: custom, withIntermediateDirectories: true)
        try "FROM placeholder\nUSER root\nRUN echo about to fail && exit 3\nUSER nova\n"
            .write(to: custom.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        let failedBuild = try runVariant("broken.yaml", [
            ("modify_append_tag: -hotfix", "modify_append_tag: -custom"), ("tasks_from: rpm_install.yml", "tasks_from: modify_image.yml"),
            ("rpms_path: \(rpms.path)", "modify_dir_path: \(custom.path)"),
        ])
        XCTAssertEqual(failedBuild.status, 1)
        XCTAssertTrue(failedBuild.stderr.contains("1 image(s) failed; no output file was written"), failedBuild.stderr)
        XCTAssertTrue(failedBuild.stderr.contains("centos-binary-nova-compute:current-tripleo: build modify_image.yml: buildah bud failed"), failedBuild.stderr)
        XCTAssertTrue(failedBuild.stderr.contains("about to fail"), failedBuild.stderr)
        XCTAssertFalse(destination.requests().contains { $0.contains("manifests/1.0-test-custom") && $0.hasPrefix("PUT") })
        let missing = try CLI.run([
            "image", "inspect", "\(destination.address)/tripleomaster/centos-binary-nova-compute:1.0-test-custom",
            "--insecure-registry", destination.address,
        ])
        XCTAssertEqual(missing.status, 1, missing.stdout)
        XCTAssertEqual(try String(contentsOf: output, encoding: .utf8), expected)

        // A plain-HTTP source not marked insecure: TLS is verified by
        // default, and the error says how to mark it.
        let started = Date()
        let refused = try runVariant("strict.yaml", [("[\(source.address), \(destination.address)]", "[\(destination.address)]")])
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains(source.address), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--insecure-registry"), refused.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 120, "a TLS failure must not hang")
        XCTAssertEqual(try String(contentsOf: output, encoding: .utf8), expected)
    }

    /// `--cleanup` as upstream: full removes the pulled base and the built
    /// image from buildah's storage, partial only the base (the built image
    /// stays under its target name), none neither.
    func testCleanupFullPartialAndNoneAsUpstream() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, destination, buildah) = (fixture.source, fixture.destination, fixture.buildah)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let custom = work.appendingPathComponent("custom")
        try FileManager.default.createDirectory(at: custom, withIntermediateDirectories: true)
        try "FROM placeholder\nRUN true\n".write(to: custom.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        let template = work.appendingPathComponent("containers.yaml.j2")
        try """
            container_images_template:
            - imagename: "{{namespace}}/{{name_prefix}}keystone{{name_suffix}}:{{tag}}"
              params: [DockerKeystoneImage]
            """.write(to: template, atomically: true, encoding: .utf8)
        let base = "\(source.address)/tripleomaster/centos-binary-keystone:current-tripleo"
        for mode in ["full", "partial", "none"] {
            let env = work.appendingPathComponent("\(mode).yaml")
            try """
                parameter_defaults:
                  DockerInsecureRegistryAddress: [\(source.address), \(destination.address)]
                  ContainerImagePrepare:
                  - push_destination: \(destination.address)
                    set: {namespace: \(source.address)/tripleomaster, name_prefix: centos-binary-, tag: current-tripleo}
                    modify_role: tripleo-modify-image
                    modify_append_tag: -cleanup-\(mode)
                    modify_vars: {tasks_from: modify_image.yml, modify_dir_path: \(custom.path)}
                """.write(to: env, atomically: true, encoding: .utf8)
            let result = try CLI.run([
                "prepare", "-e", env.path, "--template-file", template.path, "--engine", "buildah", "--cleanup", mode,
                "--storage-driver", "vfs", "--isolation", "chroot", "--buildah-root", buildah.root, "--buildah-runroot", buildah.runRoot,
                "--work-dir", work.path, "--no-cache",
            ])
            XCTAssertEqual(result.status, 0, result.stderr)
            let built = "\(destination.address)/tripleomaster/centos-binary-keystone:current-tripleo-cleanup-\(mode)"
            let images = try buildah.buildah(["images", "--format", "{{.Name}}:{{.Tag}}"]).split(separator: "\n").map(String.init)
            XCTAssertEqual(images.contains(base), mode == "none", "\(mode): \(images)")
            XCTAssertEqual(images.contains(built), mode != "full", "\(mode): \(images)")
            for image in [base, built] where images.contains(image) { try buildah.buildah(["rmi", "--force", image]) }
        }
    }

    func testImageCommandsAndOneImageModify() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, destination, buildah) = (fixture.source, fixture.destination, fixture.buildah)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let insecure = ["--insecure-registry", source.address, "--insecure-registry", destination.address]

        let list = try CLI.run(["image", "list", "--registry", source.address] + insecure)
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertEqual(list.stdout, """
            \(source.address)/tripleomaster/centos-binary-keystone:1.0-test
            \(source.address)/tripleomaster/centos-binary-keystone:current-tripleo
            \(source.address)/tripleomaster/centos-binary-nova-compute:1.0-test
            \(source.address)/tripleomaster/centos-binary-nova-compute:current-tripleo

            """)

        let inspect = try CLI.run(["image", "inspect", "\(source.address)/tripleomaster/centos-binary-keystone:current-tripleo"] + insecure)
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((json["labels"] as? [String: String])?["rdo_version"], "1.0-test")
        XCTAssertEqual(json["user"] as? String, "nova")
        XCTAssertEqual((json["layers"] as? [[String: Any]])?.count, 1)
        XCTAssertTrue((json["digest"] as? String)?.hasPrefix("sha256:") ?? false)

        let copyArguments = [
            "image", "copy", "\(source.address)/tripleomaster/centos-binary-keystone:current-tripleo",
            "\(destination.address)/copies/keystone:kept",
        ] + insecure
        let copied = try CLI.run(copyArguments)
        XCTAssertEqual(copied.status, 0, copied.stderr)
        XCTAssertTrue(copied.stdout.hasPrefix("copied \(destination.address)/copies/keystone:kept sha256:"), copied.stdout)
        let again = try CLI.run(copyArguments)
        XCTAssertTrue(again.stdout.hasPrefix("skipped "), again.stdout)

        let deleted = try CLI.run(["image", "delete", "\(destination.address)/copies/keystone:kept"] + insecure)
        XCTAssertEqual(deleted.status, 0, deleted.stderr)
        XCTAssertTrue(deleted.stdout.hasPrefix("deleted \(destination.address)/copies/keystone:kept (sha256:"), deleted.stdout)
        let gone = try CLI.run(["image", "inspect", "\(destination.address)/copies/keystone:kept"] + insecure)
        XCTAssertEqual(gone.status, 1)
        XCTAssertTrue(gone.stderr.contains("404") || gone.stderr.contains("not found"), gone.stderr)

        let rpms = work.appendingPathComponent("rpms")
        try FileManager.default.createDirectory(at: rpms, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try RPMFixtures.build().old, toPath: rpms.appendingPathComponent("hotfix.rpm").path)
        let modifyArguments = [
            "modify", "\(source.address)/tripleomaster/centos-binary-nova-compute:current-tripleo",
            "\(destination.address)/hotfixes/nova-compute:current", "--tasks-from", "rpm_install", "--rpms-path", rpms.path,
            "--append-tag", "-hf1", "--storage-driver", "vfs", "--isolation", "chroot", "--buildah-root", buildah.root,
            "--buildah-runroot", buildah.runRoot, "--work-dir", work.path,
        ] + insecure
        let modified = try CLI.run(modifyArguments)
        XCTAssertEqual(modified.status, 0, modified.stderr)
        XCTAssertTrue(
            modified.stdout.hasPrefix("built \(destination.address)/hotfixes/nova-compute:current-hf1 (rpm_install.yml, layer engine, hotfix-1.0-1.noarch installed, "),
            modified.stdout)
        let pulled = "\(destination.address)/hotfixes/nova-compute:current-hf1"
        try buildah.buildah(["pull", "--tls-verify=false", pulled])
        XCTAssertEqual(try buildah.run(in: pulled, ["rpm", "-q", "hotfix"]).trimmingCharacters(in: .whitespacesAndNewlines), "hotfix-1.0-1.noarch")
        let rerun = try CLI.run(modifyArguments)
        XCTAssertEqual(rerun.stdout, "skipped \(destination.address)/hotfixes/nova-compute:current-hf1 (already there)\n")

        // Hotfix targeting: only images that have a package of the hotfix.
        let fixes = work.appendingPathComponent("fixes")
        try FileManager.default.createDirectory(at: fixes, withIntermediateDirectories: true)
        let built = try RPMFixtures.build()
        try FileManager.default.copyItem(atPath: built.new, toPath: fixes.appendingPathComponent("hotfix.rpm").path)
        let keystone = "\(destination.address)/hotfixes/keystone:current-hf1"
        XCTAssertEqual(try CLI.run(["image", "copy", "\(source.address)/tripleomaster/centos-binary-keystone:current-tripleo", keystone] + insecure).status, 0)
        let plan = try CLI.run(["hotfix", "plan", "--rpms-path", fixes.path, pulled, keystone] + insecure)
        XCTAssertEqual(plan.status, 0, plan.stderr)
        XCTAssertEqual(plan.stdout, """
            \(pulled)
              hotfix-1.0-1.noarch -> hotfix-3:1.1-2.noarch
            \(keystone)
              none of the hotfix packages is installed: not a target

            """)
        // modify with --only-images-with-packages: an image without them is left alone.
        let untouched = try CLI.run([
            "modify", keystone, "\(destination.address)/hotfixes/keystone:current", "--tasks-from", "rpm_install",
            "--rpms-path", fixes.path, "--append-tag", "-hf2", "--only-images-with-packages",
        ] + insecure)
        XCTAssertEqual(untouched.status, 0, untouched.stderr)
        XCTAssertEqual(untouched.stdout, "skipped \(keystone) (none of the hotfix packages is installed: not modified)\n")
        let notPushed = try CLI.run(["image", "inspect", "\(destination.address)/hotfixes/keystone:current-hf2"] + insecure)
        XCTAssertEqual(notPushed.status, 1)

        let foreign = work.appendingPathComponent("foreign")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: built.foreign, toPath: foreign.appendingPathComponent("hotfix-arm.rpm").path)
        let refused = try CLI.run(["hotfix", "plan", "--rpms-path", foreign.path, pulled] + insecure)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("hotfix-arm.rpm is built for aarch64, which cannot be installed in this x86_64 image"), refused.stderr)

        let template = work.appendingPathComponent("hotfixes.yaml.j2")
        try """
            container_images_template:
            - imagename: "{{namespace}}/keystone:{{tag}}"
              params: [DockerKeystoneImage]
            - imagename: "{{namespace}}/nova-compute:{{tag}}"
              params: [DockerNovaComputeImage]
            """.write(to: template, atomically: true, encoding: .utf8)
        let env = work.appendingPathComponent("hotfix-env.yaml")
        try """
            parameter_defaults:
              DockerInsecureRegistryAddress: [\(destination.address)]
              ContainerImagePrepare:
              - push_destination: \(destination.address)
                set: {namespace: \(destination.address)/hotfixes, tag: current-hf1}
                modify_role: tripleo-modify-image
                modify_append_tag: -hf2
                modify_vars: {tasks_from: rpm_install.yml, rpms_path: \(fixes.path)}
            """.write(to: env, atomically: true, encoding: .utf8)
        let targeted = try CLI.run([
            "prepare", "-e", env.path, "--template-file", template.path, "--only-images-with-packages",
            "--report", work.appendingPathComponent("report.json").path,
            "--storage-driver", "vfs", "--isolation", "chroot", "--buildah-root", buildah.root, "--buildah-runroot", buildah.runRoot,
            "--work-dir", work.path,
        ])
        XCTAssertEqual(targeted.status, 0, targeted.stderr)
        XCTAssertEqual(targeted.stdout, """
            parameter_defaults:
              DockerKeystoneImage: \(destination.address)/hotfixes/keystone:current-hf1
              DockerNovaComputeImage: \(destination.address)/hotfixes/nova-compute:current-hf1-hf2
              DockerInsecureRegistryAddress:
              - \(destination.address)

            """)
        XCTAssertTrue(targeted.stderr.contains("hotfix  \(destination.address)/hotfixes/keystone:current-hf1: none of the hotfix packages is installed, not modified"), targeted.stderr)
        XCTAssertTrue(targeted.stderr.contains("changes \(destination.address)/hotfixes/nova-compute:current-hf1-hf2: upgraded hotfix-3:1.1-2.noarch"), targeted.stderr)
        let report = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(contentsOf: work.appendingPathComponent("report.json"))) as? [String: [[String: Any]]])
        let change = try XCTUnwrap(report["modified_images"]?.first)
        XCTAssertEqual(change["image"] as? String, "\(destination.address)/hotfixes/nova-compute:current-hf1-hf2")
        XCTAssertEqual(change["upgraded"] as? [[String: String]], [["name": "hotfix", "from": "hotfix-1.0-1.noarch", "to": "hotfix-3:1.1-2.noarch"]])
        XCTAssertEqual((change["added"] as? [Any])?.count, 0)

        let badTask = try CLI.run(["modify", "a/b:c", "d/e:f", "--tasks-from", "rpm_upgrade"] + insecure)
        XCTAssertEqual(badTask.status, 1)
        XCTAssertTrue(badTask.stderr.contains("imageprep modify.modify_vars.tasks_from: expected one of modify_image.yml"), badTask.stderr)
    }
}
