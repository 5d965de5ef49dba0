import Foundation
import ImagePrep
import ImagePrepArchive
import ImagePrepTestSupport
import XCTest

/// `imageprep prepare` for real: tag discovery, copies and an rpm_install
/// modification, against two real registries on 127.0.0.1 and real buildah; and the
/// image, modify and hotfix commands against the same registries. The heavy runs
/// (the first prepare, the hotfix images) are made once in the class setUp
/// (PrepareRegistryTests+Fixtures.swift); each test only reads or adds to them.
final class PrepareRegistryTests: XCTestCase {
    nonisolated(unsafe) static var fixture: Result<ModificationFixture, any Error>?
    nonisolated(unsafe) static var prepared: Result<PreparedRun, any Error>?
    nonisolated(unsafe) static var hotfixes: Result<HotfixImages, any Error>?

    override class func setUp() {
        let fixture = Result {
            try ModificationFixture(seeding: ["tripleomaster/centos-binary-nova-compute", "tripleomaster/centos-binary-keystone"])
        }
        self.fixture = fixture
        prepared = Result { try PreparedRun(fixture: fixture.get()) }
        hotfixes = Result { try HotfixImages(fixture: fixture.get()) }
    }

    override class func tearDown() {
        if let work = try? prepared?.get().work { try? FileManager.default.removeItem(at: work) }
        if let work = try? hotfixes?.get().work { try? FileManager.default.removeItem(at: work) }
        try? fixture?.get().stop()
        RPMFixtures.remove()
    }

    // MARK: - prepare: the first run, its re-run and its failing variants

    func testPrepareWritesDiscoveredTagsAndCopiesTheUnmodifiedImage() throws {
        let run = try XCTUnwrap(Self.prepared).get()
        XCTAssertEqual(run.first.status, 0, run.first.stderr)
        XCTAssertEqual(try run.written(), run.expected)
        XCTAssertTrue(run.first.stderr.contains("1 image(s) copied or already present, 1 modified, 0 failed."), run.first.stderr)
        // The unmodified image was copied under its discovered tag.
        XCTAssertTrue(run.fixture.destination.requests().contains("PUT /v2/tripleomaster/centos-binary-keystone/manifests/1.0-test"))
    }

    /// The modified image at the destination: hotfix installed, user and labels kept, the
    /// append tag recorded.
    func testPrepareInstallsTheHotfixKeepingUserAndLabels() throws {
        let run = try XCTUnwrap(Self.prepared).get()
        let buildah = run.fixture.buildah
        try buildah.buildah(["pull", "--tls-verify=false", run.modified])
        XCTAssertEqual(try buildah.run(in: run.modified, ["rpm", "-q", "hotfix"]).trimmingCharacters(in: .whitespacesAndNewlines), "hotfix-1.1-2.noarch")
        XCTAssertEqual(try buildah.run(in: run.modified, ["cat", "/usr/share/hotfix/VERSION"]), "hotfix 1.1 fixed\n")
        XCTAssertEqual(
            try buildah.buildah(["inspect", "--type", "image", "--format", "{{.OCIv1.Config.User}}", run.modified])
                .trimmingCharacters(in: .whitespacesAndNewlines),
            "nova")
        let labels = try buildah.buildah(["inspect", "--type", "image", "--format", "{{.OCIv1.Config.Labels}}", run.modified])
        XCTAssertTrue(labels.contains("modified_append_tag:-hotfix") && labels.contains("rdo_version:1.0-test"), labels)
        // As tripleo-common, the unmodified image went to the destination under the source's
        // tag first, then the modified one.
        let repository = run.modified.split(separator: "/").dropFirst().joined(separator: "/").split(separator: ":")[0]
        let tag = run.modified.split(separator: ":").last.map(String.init) ?? ""
        XCTAssertTrue(tag.hasSuffix("-hotfix"), tag)
        let requests = run.fixture.destination.requests()
        let unmodified = requests.firstIndex(of: "PUT /v2/\(repository)/manifests/\(tag.dropLast("-hotfix".count))")
        let modified = requests.firstIndex(of: "PUT /v2/\(repository)/manifests/\(tag)")
        XCTAssertNotNil(unmodified, "\(requests)")
        XCTAssertNotNil(modified, "\(requests)")
        XCTAssertLessThan(unmodified ?? .max, modified ?? .min)
    }

    /// `imageprep image packages` reads the inventory from the registry: the hotfix is in
    /// the modified image.
    func testImagePackagesListsTheHotfixInTheModifiedImage() throws {
        let run = try XCTUnwrap(Self.prepared).get()
        let packages = try CLI.run(["image", "packages", run.modified, "--insecure-registry", run.fixture.destination.address])
        XCTAssertEqual(packages.status, 0, packages.stderr)
        XCTAssertEqual(packages.stdout, "hotfix-3:1.1-2.noarch\n")
    }

    func testPackageInventoryReadsALayerSharedByImagesOnce() async throws {
        let run = try XCTUnwrap(Self.prepared).get()
        let (source, destination) = (run.fixture.source, run.fixture.destination)
        var options = RegistryOptions()
        options.insecureRegistries = [source.address, destination.address]
        let inventory = try PackageInventory(options: options)
        let keystone = try await inventory.packages(of: "\(destination.address)/tripleomaster/centos-binary-keystone:1.0-test")
        XCTAssertEqual(keystone, [], "the base image's rpm database is empty")
        let hotfixed = try await inventory.packages(of: run.modified)
        XCTAssertEqual(hotfixed.map(\.nevra), ["hotfix-3:1.1-2.noarch"])
        _ = try await inventory.packages(of: "\(source.address)/tripleomaster/centos-binary-nova-compute:current-tripleo")
        let layersRead = await inventory.layersRead
        XCTAssertEqual(layersRead, 2, "the shared base layer is read once")
    }

    /// A re-run rebuilds and copies nothing: one request per image at the destination,
    /// besides one API version check for the run; at the source only the manifests and a
    /// `HEAD` of each discovered tag (it must exist there; no tag list) are read, the image
    /// configs come from the cache.
    func testPrepareReRunRebuildsAndCopiesNothing() async throws {
        let run = try XCTUnwrap(Self.prepared).get()
        let (source, destination) = (run.fixture.source, run.fixture.destination)
        let before = destination.requests().count
        let sourceBefore = try await source.requests(after: 0).count
        let second = try CLI.run(run.arguments)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(try run.written(), run.expected)
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
                "GET /v2/tripleomaster/centos-binary-nova-compute/manifests/current-tripleo",
                "HEAD /v2/tripleomaster/centos-binary-nova-compute/manifests/1.0-test",
            ], """
            at the source, the labels' manifest per image; the discovered tag is checked with a HEAD \
            only for the modified image: the destination holds the copied one's tag at the digest read
            """)
    }

    /// `--log-file` appends each run's lines, timestamped, as upstream's deploy-time prepare log:
    /// a re-run's images and summary, then a failing run's error; the file is private.
    func testPrepareLogFileAppendsEachRunsImagesAndErrors() throws {
        let run = try XCTUnwrap(Self.prepared).get()
        let log = run.work.appendingPathComponent("prepare.log")
        let again = try CLI.run(run.arguments + ["--log-file", log.path])
        XCTAssertEqual(again.status, 0, again.stderr)
        var variant = try String(contentsOf: run.env, encoding: .utf8)
        variant = variant.replacingOccurrences(of: "tag_from_label: rdo_version", with: "tag_from_label: '{rdo_version}-rc'")
        let bad = run.work.appendingPathComponent("log-bad.yaml")
        try variant.write(to: bad, atomically: true, encoding: .utf8)
        var badArguments = run.arguments
        badArguments[2] = bad.path
        let failed = try CLI.run(badArguments + ["--log-file", log.path])
        XCTAssertEqual(failed.status, 1)

        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map(String.init)
        let stamp = try Regex(#"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "#)
        XCTAssertTrue(lines.allSatisfy { $0.contains(stamp) }, "\(lines)")
        let text = lines.map { $0.replacing(stamp, with: "") }
        XCTAssertEqual(text.first, "prepare started: -e \(run.env.path)")
        XCTAssertTrue(text.contains { $0.hasPrefix("skipped ") && $0.contains("centos-binary-keystone:1.0-test") }, "\(text)")
        XCTAssertTrue(text.contains { $0.hasPrefix("summary: 2 image(s)") }, "\(text)")
        XCTAssertTrue(text.contains("prepare finished: 2 image parameter(s)"), "\(text)")
        XCTAssertTrue(text.contains("prepare started: -e \(bad.path)"), "\(text)")
        XCTAssertTrue(text.contains { $0.hasPrefix("prepare failed: 2 image(s) failed") }, "\(text)")
        XCTAssertTrue(text.contains { $0.contains("has no tag 1.0-test-rc") }, "\(text)")
        XCTAssertFalse(text.contains { $0.contains("\u{1B}") })
        let mode = try FileManager.default.attributesOfItem(atPath: log.path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)

        let unwritable = try CLI.run(run.arguments + ["--log-file", run.work.appendingPathComponent("no/such/dir.log").path])
        XCTAssertEqual(unwritable.status, 1)
        XCTAssertTrue(unwritable.stderr.hasPrefix("Error: --log-file \(run.work.path)/no/such/dir.log: cannot open it for writing: No such file or directory"),
                      unwritable.stderr)
    }

    /// A tag_from_label whose tag the source lacks fails those images, names the tag and the
    /// available ones, and leaves the env file as it was.
    func testPrepareFailsImagesWhoseLabelledTagIsMissingAndKeepsTheEnvFile() throws {
        let run = try XCTUnwrap(Self.prepared).get()
        let failed = try run.runVariant("bad.yaml", [("tag_from_label: rdo_version", "tag_from_label: '{rdo_version}-rc'")])
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stderr.contains("2 image(s) failed; no output file was written"), failed.stderr)
        XCTAssertTrue(
            failed.stderr.contains(
                "image \(run.fixture.source.address)/tripleomaster/centos-binary-keystone has no tag 1.0-test-rc (from tag_from_label {rdo_version}-rc); available tags: 1.0-test, current-tripleo"),
            failed.stderr)
        XCTAssertEqual(try run.written(), run.expected)
        // --json answers too: each failed image with its kind and the same reason.
        let variant = run.work.appendingPathComponent("bad.yaml").path
        var arguments = run.arguments
        arguments[2] = variant
        let json = try CLI.run(arguments + ["--json"])
        XCTAssertEqual(json.status, 1, json.stderr)
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], json.stdout)
        XCTAssertEqual(document["failed"] as? Bool, true)
        let failures = try XCTUnwrap(document["failures"] as? [[String: String]])
        XCTAssertEqual(failures.count, 2)
        XCTAssertEqual(Set(failures.map { $0["kind"] ?? "" }), ["tag_discovery"])
        XCTAssertTrue(failures.contains { ($0["reason"] ?? "").contains("has no tag 1.0-test-rc (from tag_from_label {rdo_version}-rc)") }, json.stdout)
        XCTAssertTrue(json.stderr.contains("2 image(s) failed; no output file was written"), json.stderr)
        XCTAssertEqual(try run.written(), run.expected)
    }

    /// A Dockerfile whose RUN fails: that image fails, the error names the step and shows
    /// buildah's output, and no tag is made at the destination.
    func testPrepareFailsAnImageWhoseDockerfileRunFailsAndPushesNothing() throws {
        let run = try XCTUnwrap(Self.prepared).get()
        let destination = run.fixture.destination
        let custom = run.work.appendingPathComponent("nova-custom")
        try FileManager.default.createDirectory(at: custom, withIntermediateDirectories: true)
        try "FROM placeholder\nUSER root\nRUN echo about to fail && exit 3\nUSER nova\n"
            .write(to: custom.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        let failedBuild = try run.runVariant("broken.yaml", [
            ("modify_append_tag: -hotfix", "modify_append_tag: -custom"), ("tasks_from: rpm_install.yml", "tasks_from: modify_image.yml"),
            ("rpms_path: \(run.rpms.path)", "modify_dir_path: \(custom.path)"),
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
        XCTAssertEqual(try run.written(), run.expected)
    }

    /// A plain-HTTP source not marked insecure: TLS is verified by default, and the error
    /// says how to mark it.
    func testPrepareRefusesAPlainHTTPSourceNotMarkedInsecureAndSaysHowToMarkIt() throws {
        let run = try XCTUnwrap(Self.prepared).get()
        let (source, destination) = (run.fixture.source, run.fixture.destination)
        let started = Date()
        let refused = try run.runVariant("strict.yaml", [("[\(source.address), \(destination.address)]", "[\(destination.address)]")])
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains(source.address), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--insecure-registry"), refused.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 120, "a TLS failure must not hang")
        XCTAssertEqual(try run.written(), run.expected)
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

    // MARK: - image commands, modify and hotfix targeting

    func testImageListShowsEveryTagOfEveryRepository() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let source = fixture.source
        let list = try CLI.run(["image", "list", "--registry", source.address] + Self.insecure(fixture))
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertEqual(list.stdout, """
            \(source.address)/tripleomaster/centos-binary-keystone:1.0-test
            \(source.address)/tripleomaster/centos-binary-keystone:current-tripleo
            \(source.address)/tripleomaster/centos-binary-nova-compute:1.0-test
            \(source.address)/tripleomaster/centos-binary-nova-compute:current-tripleo

            """)
    }

    func testImageInspectShowsLabelsUserLayersAndDigest() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let inspect = try CLI.run(
            ["image", "inspect", "\(fixture.source.address)/tripleomaster/centos-binary-keystone:current-tripleo"] + Self.insecure(fixture))
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((json["labels"] as? [String: String])?["rdo_version"], "1.0-test")
        XCTAssertEqual(json["user"] as? String, "nova")
        XCTAssertEqual((json["layers"] as? [[String: Any]])?.count, 1)
        XCTAssertTrue((json["digest"] as? String)?.hasPrefix("sha256:") ?? false)
    }

    func testImageCopyCopiesThenSkipsAnImageAlreadyThere() throws {
        let hotfixes = try XCTUnwrap(Self.hotfixes).get()
        let (source, destination) = (hotfixes.fixture.source, hotfixes.fixture.destination)
        let copyArguments = [
            "image", "copy", "\(source.address)/tripleomaster/centos-binary-keystone:current-tripleo",
            "\(destination.address)/copies/keystone:kept",
        ] + hotfixes.insecure
        let copied = try CLI.run(copyArguments)
        XCTAssertEqual(copied.status, 0, copied.stderr)
        XCTAssertTrue(copied.stdout.hasPrefix("copied \(destination.address)/copies/keystone:kept sha256:"), copied.stdout)
        let again = try CLI.run(copyArguments)
        XCTAssertTrue(again.stdout.hasPrefix("skipped "), again.stdout)
    }

    func testImageDeleteRemovesTheTaggedImage() throws {
        let hotfixes = try XCTUnwrap(Self.hotfixes).get()
        let (source, destination) = (hotfixes.fixture.source, hotfixes.fixture.destination)
        let target = "\(destination.address)/deletes/keystone:gone"
        let copied = try CLI.run(
            ["image", "copy", "\(source.address)/tripleomaster/centos-binary-keystone:current-tripleo", target] + hotfixes.insecure)
        XCTAssertEqual(copied.status, 0, copied.stderr)
        let deleted = try CLI.run(["image", "delete", target] + hotfixes.insecure)
        XCTAssertEqual(deleted.status, 0, deleted.stderr)
        XCTAssertTrue(deleted.stdout.hasPrefix("deleted \(target) (sha256:"), deleted.stdout)
        let gone = try CLI.run(["image", "inspect", target] + hotfixes.insecure)
        XCTAssertEqual(gone.status, 1)
        XCTAssertTrue(gone.stderr.contains("404") || gone.stderr.contains("not found"), gone.stderr)
    }

    func testModifyInstallsAnRPMThroughTheLayerEngine() throws {
        let hotfixes = try XCTUnwrap(Self.hotfixes).get()
        let (destination, buildah) = (hotfixes.fixture.destination, hotfixes.fixture.buildah)
        XCTAssertEqual(hotfixes.modified.status, 0, hotfixes.modified.stderr)
        XCTAssertTrue(
            hotfixes.modified.stdout.hasPrefix(
                "built \(destination.address)/hotfixes/nova-compute:current-hf1 (rpm_install.yml, layer engine, hotfix-1.0-1.noarch installed, "),
            hotfixes.modified.stdout)
        try buildah.buildah(["pull", "--tls-verify=false", hotfixes.novaCompute])
        XCTAssertEqual(
            try buildah.run(in: hotfixes.novaCompute, ["rpm", "-q", "hotfix"]).trimmingCharacters(in: .whitespacesAndNewlines),
            "hotfix-1.0-1.noarch")
    }

    func testModifyReRunSkipsTheImageAlreadyThere() throws {
        let hotfixes = try XCTUnwrap(Self.hotfixes).get()
        let rerun = try CLI.run(hotfixes.modifyArguments)
        XCTAssertEqual(rerun.stdout, "skipped \(hotfixes.novaCompute) (already there)\n")
    }

    /// Hotfix targeting: only images that have a package of the hotfix.
    func testHotfixPlanListsUpgradesAndImagesThatAreNotTargets() throws {
        let hotfixes = try XCTUnwrap(Self.hotfixes).get()
        XCTAssertEqual(hotfixes.keystoneCopied.status, 0, hotfixes.keystoneCopied.stderr)
        let plan = try CLI.run(["hotfix", "plan", "--rpms-path", hotfixes.fixes.path, hotfixes.novaCompute, hotfixes.keystone] + hotfixes.insecure)
        XCTAssertEqual(plan.status, 0, plan.stderr)
        XCTAssertEqual(plan.stdout, """
            \(hotfixes.novaCompute)
              hotfix-1.0-1.noarch -> hotfix-3:1.1-2.noarch
            \(hotfixes.keystone)
              none of the hotfix packages is installed: not a target

            """)
    }

    /// modify with --only-images-with-packages: an image without them is left alone.
    func testModifyOnlyImagesWithPackagesLeavesAnImageWithoutThemAlone() throws {
        let hotfixes = try XCTUnwrap(Self.hotfixes).get()
        let destination = hotfixes.fixture.destination
        let untouched = try CLI.run([
            "modify", hotfixes.keystone, "\(destination.address)/hotfixes/keystone:current", "--tasks-from", "rpm_install",
            "--rpms-path", hotfixes.fixes.path, "--append-tag", "-hf2", "--only-images-with-packages",
        ] + hotfixes.insecure)
        XCTAssertEqual(untouched.status, 0, untouched.stderr)
        XCTAssertEqual(untouched.stdout, "skipped \(hotfixes.keystone) (none of the hotfix packages is installed: not modified)\n")
        let notPushed = try CLI.run(["image", "inspect", "\(destination.address)/hotfixes/keystone:current-hf2"] + hotfixes.insecure)
        XCTAssertEqual(notPushed.status, 1)
    }

    func testHotfixPlanRefusesAnRPMBuiltForAnotherArchitecture() throws {
        let hotfixes = try XCTUnwrap(Self.hotfixes).get()
        let foreign = hotfixes.work.appendingPathComponent("foreign")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: hotfixes.rpms.foreign, toPath: foreign.appendingPathComponent("hotfix-arm.rpm").path)
        let refused = try CLI.run(["hotfix", "plan", "--rpms-path", foreign.path, hotfixes.novaCompute] + hotfixes.insecure)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("hotfix-arm.rpm is built for aarch64, which cannot be installed in this x86_64 image"), refused.stderr)
    }

    func testPrepareOnlyImagesWithPackagesModifiesTargetsAndReportsTheChanges() throws {
        let hotfixes = try XCTUnwrap(Self.hotfixes).get()
        let (destination, buildah, work) = (hotfixes.fixture.destination, hotfixes.fixture.buildah, hotfixes.work)
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
                modify_vars: {tasks_from: rpm_install.yml, rpms_path: \(hotfixes.fixes.path)}
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
    }

    func testModifyRejectsAnUnknownTask() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let bad = try CLI.run(["modify", "a/b:c", "d/e:f", "--tasks-from", "rpm_upgrade"] + Self.insecure(fixture))
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("imageprep modify.modify_vars.tasks_from: expected one of modify_image.yml"), bad.stderr)
    }
}
