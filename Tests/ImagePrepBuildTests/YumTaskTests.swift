import Foundation
import ImagePrepPlan
import ImagePrepTestSupport
import XCTest

@testable import ImagePrepBuild

/// yum_install.yml and yum_update.yml for real: a Debian image with dnf and a
/// local repository of RPMs built by rpmbuild, served on 127.0.0.1.
final class YumTaskTests: XCTestCase {
    nonisolated(unsafe) static var buildah: BuildahFixture?
    nonisolated(unsafe) static var dnf: DnfFixture?
    nonisolated(unsafe) static var setupError: (any Error)?

    override class func setUp() {
        do {
            let buildah = try BuildahFixture()
            Self.buildah = buildah
            Self.dnf = try DnfFixture(buildah: buildah)
        } catch {
            setupError = error
        }
    }

    override class func tearDown() {
        dnf?.stop()
        buildah?.remove()
        RPMFixtures.remove()
    }

    func testYumInstallThenYumUpdateFromTheRepository() async throws {
        if let error = Self.setupError { throw error }
        let buildah = try XCTUnwrap(Self.buildah)
        let dnf = try XCTUnwrap(Self.dnf)
        let rpms = try RPMFixtures.build()
        let modifier = ImageModifier(
            buildah: Buildah(root: buildah.root, runRoot: buildah.runRoot, storageDriver: "vfs", isolation: "chroot"),
            workDirectory: buildah.directory, cleanup: .partial)

        // yum_install: hotfix 1.0 from the repository.
        try dnf.publish([rpms.old])
        let installed = try await modifier.modify(
            sourceImage: dnf.image, task: .yumInstall(packages: ["hotfix"], reposDirectory: dnf.reposDirectory.path),
            appendTag: "-installed", tlsVerify: false, pullBase: false)
        defer { installed.finish() }
        let withHotfix = "localhost/imageprep-test/dnf:installed"
        try buildah.importLayout(installed.layout, as: withHotfix)
        XCTAssertEqual(try buildah.run(in: withHotfix, ["rpm", "-q", "hotfix"]).trimmingCharacters(in: .whitespacesAndNewlines), "hotfix-1.0-1.noarch")
        XCTAssertEqual(
            try buildah.buildah(["inspect", "--type", "image", "--format", "{{.OCIv1.Config.User}}", withHotfix]).trimmingCharacters(in: .whitespacesAndNewlines),
            "nobody")

        // yum_update with compare_host_packages: the inventories said the
        // host's hotfix differs, so hotfix is updated to what the repository
        // now has.
        try dnf.publish([rpms.new])
        var update = ModifyTask.YumUpdate()
        update.updateRepos = ["imageprep-test"]
        update.reposDirectory = dnf.reposDirectory.path
        update.compareHostPackages = true
        var updating = modifier
        updating.updatePackages = ["hotfix"]
        let updated = try await updating.modify(
            sourceImage: withHotfix, task: .yumUpdate(update), appendTag: "-updated", tlsVerify: false, pullBase: false)
        defer { updated.finish() }
        try buildah.importLayout(updated.layout, as: "localhost/imageprep-test/dnf:updated")
        XCTAssertEqual(
            try buildah.run(in: "localhost/imageprep-test/dnf:updated", ["rpm", "-q", "hotfix"]).trimmingCharacters(in: .whitespacesAndNewlines),
            "hotfix-1.1-2.noarch")
        let details = (try? buildah.run(in: "localhost/imageprep-test/dnf:updated", ["sh", "-c", "rpm -qa | grep hotfix; ls -la /usr/share/hotfix; rpm -ql hotfix"])) ?? ""
        let log = (try? String(contentsOf: updated.buildDirectory.appendingPathComponent("buildah.log"), encoding: .utf8)) ?? ""
        XCTAssertEqual(
            try buildah.run(in: "localhost/imageprep-test/dnf:updated", ["cat", "/usr/share/hotfix/VERSION"]), "hotfix 1.1 fixed\n",
            details + log)

        // When the host has what the image has, the list is empty and nothing
        // is updated.
        var unchanged = modifier
        unchanged.updatePackages = []
        let same = try await unchanged.modify(
            sourceImage: withHotfix, task: .yumUpdate(update), appendTag: "-same", tlsVerify: false, pullBase: false)
        defer { same.finish() }
        try buildah.importLayout(same.layout, as: "localhost/imageprep-test/dnf:same")
        XCTAssertEqual(
            try buildah.run(in: "localhost/imageprep-test/dnf:same", ["rpm", "-q", "hotfix"]).trimmingCharacters(in: .whitespacesAndNewlines),
            "hotfix-1.0-1.noarch")

        // rpms_path as the update (local RPMs, no repository) with yum_cache: the
        // operator's cache directory is mounted for the build and left in place.
        let localRPMs = buildah.directory.appendingPathComponent("update-rpms")
        let cache = buildah.directory.appendingPathComponent("yum-cache")
        try FileManager.default.createDirectory(at: localRPMs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        try Data("kept\n".utf8).write(to: cache.appendingPathComponent("operator-file"))
        try FileManager.default.copyItem(atPath: rpms.new, toPath: localRPMs.appendingPathComponent("hotfix.rpm").path)
        var local = ModifyTask.YumUpdate()
        local.rpmsPath = localRPMs.path
        local.cacheDirectory = cache.path
        let localUpdate = try await modifier.modify(
            sourceImage: withHotfix, task: .yumUpdate(local), appendTag: "-local", tlsVerify: false, pullBase: false)
        defer { localUpdate.finish() }
        try buildah.importLayout(localUpdate.layout, as: "localhost/imageprep-test/dnf:local")
        XCTAssertEqual(
            try buildah.run(in: "localhost/imageprep-test/dnf:local", ["rpm", "-q", "hotfix"]).trimmingCharacters(in: .whitespacesAndNewlines),
            "hotfix-1.1-2.noarch")
        XCTAssertEqual(try String(contentsOf: cache.appendingPathComponent("operator-file"), encoding: .utf8), "kept\n")
    }

    func testDevInstallInstallsALocalPythonTree() async throws {
        if let error = Self.setupError { throw error }
        let buildah = try XCTUnwrap(Self.buildah)
        let dnf = try XCTUnwrap(Self.dnf)
        let project = buildah.directory.appendingPathComponent("src/imageprep-hello")
        try FileManager.default.createDirectory(at: project.appendingPathComponent("imageprep_hello"), withIntermediateDirectories: true)
        try "VALUE = 'patched by dev_install'\n".write(
            to: project.appendingPathComponent("imageprep_hello/__init__.py"), atomically: true, encoding: .utf8)
        try "from setuptools import setup\nsetup(name='imageprep-hello', version='0.1', packages=['imageprep_hello'])\n"
            .write(to: project.appendingPathComponent("setup.py"), atomically: true, encoding: .utf8)
        let modifier = ImageModifier(
            buildah: Buildah(root: buildah.root, runRoot: buildah.runRoot, storageDriver: "vfs", isolation: "chroot"),
            workDirectory: buildah.directory, cleanup: .partial)
        let result = try await modifier.modify(
            sourceImage: dnf.image, task: .devInstall(pythonDirectories: [project.path], refspecs: []), appendTag: "-dev",
            tlsVerify: false, pullBase: false)
        defer { result.finish() }
        try buildah.importLayout(result.layout, as: "localhost/imageprep-test/dnf:dev")
        XCTAssertEqual(
            try buildah.run(in: "localhost/imageprep-test/dnf:dev", ["python3", "-c", "import imageprep_hello; print(imageprep_hello.VALUE)"]),
            "patched by dev_install\n")
    }

    /// Finding 9 of issue 12: shell syntax in yum_packages and update_repo reaches dnf as one
    /// argument each, in a real build; Dockerfile.modified holds none of it.
    func testHostileValuesReachDnfLiterally() async throws {
        if let error = Self.setupError { throw error }
        let buildah = try XCTUnwrap(Self.buildah)
        let dnf = try XCTUnwrap(Self.dnf)
        try dnf.publish([try RPMFixtures.build().old])
        let modifier = ImageModifier(
            buildah: Buildah(root: buildah.root, runRoot: buildah.runRoot, storageDriver: "vfs", isolation: "chroot"),
            workDirectory: buildah.directory, cleanup: .partial, keepBuildDirectory: true)
        let hostile = ["a;b", "$(touch /pwned)", "`touch /pwned`", #"it's "quoted""#, "x' && touch /pwned && echo '"]

        func failedBuild(_ task: ModifyTask) async throws -> (dockerfile: String, log: String, directory: String) {
            do {
                let result = try await modifier.modify(
                    sourceImage: dnf.image, task: task, appendTag: "-hostile", tlsVerify: false, pullBase: false)
                result.finish()
                XCTFail("dnf must refuse packages and repos that do not exist")
                return ("", "", "")
            } catch {
                XCTAssertEqual(error.step, "build \(task.name)")
                let kept = try XCTUnwrap(error.buildDirectory)
                defer { try? FileManager.default.removeItem(atPath: kept) }
                return (
                    try String(contentsOfFile: kept + "/context/Dockerfile.modified", encoding: .utf8),
                    try String(contentsOfFile: kept + "/buildah.log", encoding: .utf8), kept
                )
            }
        }

        let install = try await failedBuild(.yumInstall(packages: ["hotfix"] + hostile, reposDirectory: dnf.reposDirectory.path))
        XCTAssertTrue(install.dockerfile.contains("RUN /bin/sh /tmp/imageprep/yum_install.sh /tmp/imageprep && rm -rf /tmp/imageprep\n"), install.dockerfile)
        for value in hostile {
            XCTAssertFalse(install.dockerfile.contains(value), install.dockerfile)
            XCTAssertTrue(install.log.contains("No match for argument: \(value)\n"), "\(value) not passed literally:\n\(install.log)")
        }

        var update = ModifyTask.YumUpdate()
        // (dnf itself splits --enablerepo at spaces and commas: an id has none.)
        update.updateRepos = ["imageprep-test", "x$(touch${IFS}/pwned)`id`;'\""]
        update.reposDirectory = dnf.reposDirectory.path
        let updated = try await failedBuild(.yumUpdate(update))
        XCTAssertFalse(updated.dockerfile.contains("pwned"), updated.dockerfile)
        XCTAssertTrue(updated.log.contains("Unknown repo: 'x$(touch${IFS}/pwned)`id`;'\"'"), updated.log)
    }

    /// yum_install through `imageprep prepare`: the base comes from a
    /// registry, the result is pushed back, and its inventory shows the package.
    func testYumInstallThroughPrepare() throws {
        if let error = Self.setupError { throw error }
        let buildah = try XCTUnwrap(Self.buildah)
        let dnf = try XCTUnwrap(Self.dnf)
        let registry = try RegistryServer()
        defer { registry.stop() }
        try buildah.buildah([
            "push", "--tls-verify=false", dnf.image, "docker://\(registry.address)/tripleomaster/centos-binary-nova-compute:current-tripleo",
        ])
        try dnf.publish([try RPMFixtures.build().old])
        let work = buildah.directory.appendingPathComponent("prepare-yum")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let template = work.appendingPathComponent("t.yaml.j2")
        try """
            container_images_template:
            - imagename: "{{namespace}}/{{name_prefix}}nova-compute{{name_suffix}}:{{tag}}"
              params: [DockerNovaComputeImage]
            """.write(to: template, atomically: true, encoding: .utf8)
        let env = work.appendingPathComponent("env.yaml")
        try """
            parameter_defaults:
              DockerInsecureRegistryAddress: [\(registry.address)]
              ContainerImagePrepare:
              - push_destination: \(registry.address)
                set: {namespace: \(registry.address)/tripleomaster, name_prefix: centos-binary-, tag: current-tripleo}
                modify_role: tripleo-modify-image
                modify_append_tag: -installed
                modify_vars:
                  tasks_from: yum_install.yml
                  yum_packages: [hotfix]
                  yum_repos_dir_path: \(dnf.reposDirectory.path)
            """.write(to: env, atomically: true, encoding: .utf8)
        let result = try CLI.run([
            "prepare", "-e", env.path, "--template-file", template.path, "--storage-driver", "vfs", "--isolation", "chroot",
            "--buildah-root", buildah.root, "--buildah-runroot", buildah.runRoot, "--work-dir", work.path, "--cleanup", "partial",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let target = "\(registry.address)/tripleomaster/centos-binary-nova-compute:current-tripleo-installed"
        XCTAssertEqual(result.stdout, """
            parameter_defaults:
              DockerNovaComputeImage: \(target)
              DockerInsecureRegistryAddress:
              - \(registry.address)

            """)
        let packages = try CLI.run(["image", "packages", target, "--insecure-registry", registry.address])
        XCTAssertEqual(packages.status, 0, packages.stderr)
        XCTAssertTrue(packages.stdout.split(separator: "\n").contains("hotfix-1.0-1.noarch"), packages.stdout)
    }
}
