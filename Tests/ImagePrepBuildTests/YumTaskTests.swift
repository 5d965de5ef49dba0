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

    /// A test package `name` at `version`, noarch, one file.
    private func package(_ name: String, _ version: String, in directory: URL) throws -> String {
        try RPMFixtures.rpmbuild(spec: """
            Name: \(name)
            Version: \(version)
            Release: 1
            Summary: imageprep test package \(name) \(version)
            License: MIT
            BuildArch: noarch
            AutoReqProv: no

            %description
            A package for imageprep's tests.

            %install
            mkdir -p %{buildroot}/usr/share/\(name)
            echo '\(name) \(version)' > %{buildroot}/usr/share/\(name)/VERSION

            %files
            /usr/share/\(name)/VERSION
            """, name: name, in: directory)
    }

    /// Issue 20 §3, the role's yum_update: `update_repo` updates only the installed packages
    /// those repos provide at another version; the host's repo environment is mounted, so a
    /// `baseurl=file://` repository (an offline undercloud's) works; without `update_repo`
    /// everything is updated; `yum_cache` is mounted and kept, `force_purge_yum_cache` empties
    /// it first; the compare_host_packages gate closed updates nothing.
    func testUpdateRepoSelectsWhatItsReposProvideFromAFileRepository() async throws {
        if let error = Self.setupError { throw error }
        let buildah = try XCTUnwrap(Self.buildah)
        let dnf = try XCTUnwrap(Self.dnf)
        let rpms = try RPMFixtures.build()
        let extraOld = try package("extra", "1.0", in: rpms.directory)
        let extraNew = try package("extra", "1.1", in: rpms.directory)
        let modifier = ImageModifier(
            buildah: Buildah(root: buildah.root, runRoot: buildah.runRoot, storageDriver: "vfs", isolation: "chroot"),
            workDirectory: buildah.directory, cleanup: .partial)
        func rpmQuery(_ image: String) throws -> String {
            try buildah.run(in: image, ["rpm", "-q", "hotfix", "extra"])
        }

        try dnf.publish([rpms.old, extraOld])
        let installed = try await modifier.modify(
            sourceImage: dnf.image, task: .yumInstall(packages: ["hotfix", "extra"], reposDirectory: dnf.reposDirectory.path),
            appendTag: "-two", tlsVerify: false, pullBase: false)
        defer { installed.finish() }
        let base = "localhost/imageprep-test/dnf:two"
        try buildah.importLayout(installed.layout, as: base)
        XCTAssertEqual(try rpmQuery(base), "hotfix-1.0-1.noarch\nextra-1.0-1.noarch\n")

        // The HTTP repository now has hotfix 3:1.1-2; a local file:// one has extra 1.1.
        try dnf.publish([rpms.new])
        let fileRepo = buildah.directory.appendingPathComponent("offline-repo")
        try FileManager.default.createDirectory(at: fileRepo, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: extraNew, toPath: fileRepo.appendingPathComponent("extra-1.1-1.noarch.rpm").path)
        try BuildahFixture.run("/usr/bin/createrepo_c", ["--quiet", fileRepo.path])
        let repos = buildah.directory.appendingPathComponent("repos-with-file")
        try FileManager.default.createDirectory(at: repos, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: dnf.reposDirectory.appendingPathComponent("imageprep-test.repo"), to: repos.appendingPathComponent("imageprep-test.repo"))
        try """
            [offline]
            name=an offline undercloud's local repository
            baseurl=file://\(fileRepo.path)/
            enabled=1
            gpgcheck=0
            metadata_expire=0

            """.write(to: repos.appendingPathComponent("offline.repo"), atomically: true, encoding: .utf8)

        var fromOffline = ModifyTask.YumUpdate()
        fromOffline.updateRepos = ["offline"]
        fromOffline.reposDirectory = repos.path
        let selected = try await modifier.modify(
            sourceImage: base, task: .yumUpdate(fromOffline), appendTag: "-offline", tlsVerify: false, pullBase: false)
        defer { selected.finish() }
        try buildah.importLayout(selected.layout, as: "localhost/imageprep-test/dnf:offline")
        // extra from the file:// repository; hotfix, which "offline" does not provide, untouched
        // although the other repository has a newer one.
        XCTAssertEqual(try rpmQuery("localhost/imageprep-test/dnf:offline"), "hotfix-1.0-1.noarch\nextra-1.1-1.noarch\n")
        // The mounts are not part of the image: its own repo directory is as it was.
        XCTAssertFalse(
            try buildah.run(in: "localhost/imageprep-test/dnf:offline", ["sh", "-c", "ls /etc/yum.repos.d 2>/dev/null; true"]).contains("offline.repo"))

        // Without update_repo: every package, from every repo; the cache mounted and kept,
        // purged first.
        let cache = buildah.directory.appendingPathComponent("purged-cache")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        try Data("stale\n".utf8).write(to: cache.appendingPathComponent("stale-file"))
        var everything = ModifyTask.YumUpdate()
        everything.reposDirectory = repos.path
        everything.cacheDirectory = cache.path
        everything.forcePurgeCache = true
        let all = try await modifier.modify(
            sourceImage: base, task: .yumUpdate(everything), appendTag: "-all", tlsVerify: false, pullBase: false)
        defer { all.finish() }
        try buildah.importLayout(all.layout, as: "localhost/imageprep-test/dnf:all")
        XCTAssertEqual(try rpmQuery("localhost/imageprep-test/dnf:all"), "hotfix-1.1-2.noarch\nextra-1.1-1.noarch\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache.appendingPathComponent("stale-file").path))
        let cached = try XCTUnwrap(FileManager.default.enumerator(atPath: cache.path)).compactMap { $0 as? String }
        XCTAssertTrue(cached.contains { $0.hasSuffix("hotfix-1.1-2.noarch.rpm") }, "\(cached)")

        // The compare_host_packages gate closed (no shared package differs from the host's):
        // nothing is updated, update_repo or not.
        var gated = modifier
        gated.updatePackages = []
        var gatedUpdate = everything
        gatedUpdate.compareHostPackages = true
        gatedUpdate.cacheDirectory = nil
        let closed = try await gated.modify(
            sourceImage: base, task: .yumUpdate(gatedUpdate), appendTag: "-gated", tlsVerify: false, pullBase: false)
        defer { closed.finish() }
        try buildah.importLayout(closed.layout, as: "localhost/imageprep-test/dnf:gated")
        XCTAssertEqual(try rpmQuery("localhost/imageprep-test/dnf:gated"), "hotfix-1.0-1.noarch\nextra-1.0-1.noarch\n")
        // Open (one package differs): the whole update runs, not only that package.
        gated.updatePackages = ["extra"]
        let open = try await gated.modify(
            sourceImage: base, task: .yumUpdate(gatedUpdate), appendTag: "-open", tlsVerify: false, pullBase: false)
        defer { open.finish() }
        try buildah.importLayout(open.layout, as: "localhost/imageprep-test/dnf:open")
        XCTAssertEqual(try rpmQuery("localhost/imageprep-test/dnf:open"), "hotfix-1.1-2.noarch\nextra-1.1-1.noarch\n")
    }

    /// dev_install in an image without pip: pip comes from the image's package manager and
    /// repos first, as the role installs python3-pip.
    func testDevInstallInstallsPipWhenTheImageHasNone() async throws {
        if let error = Self.setupError { throw error }
        let buildah = try XCTUnwrap(Self.buildah)
        let dnf = try XCTUnwrap(Self.dnf)
        let rpms = try RPMFixtures.build()
        // A python3-pip package for the test repository: the image's pip module, behind the
        // pip3 command the image lost.
        let pip = try RPMFixtures.pipCommand(in: rpms.directory)
        try dnf.publish([pip])
        let container = try buildah.buildah(["from", "--pull-never", dnf.image]).trimmingCharacters(in: .whitespacesAndNewlines)
        try buildah.buildah(["run", "--isolation", "chroot", "--user", "root", container, "--", "sh", "-c", "rm -f /usr/bin/pip /usr/bin/pip3 /usr/bin/pip3.*"])
        try buildah.buildah(["copy", container, dnf.reposDirectory.appendingPathComponent("imageprep-test.repo").path, "/etc/yum.repos.d/imageprep-test.repo"])
        let withoutPip = "localhost/imageprep-test/dnf:no-pip"
        try buildah.buildah(["commit", "--rm", container, withoutPip])

        let project = buildah.directory.appendingPathComponent("src-nopip/imageprep-hello")
        try FileManager.default.createDirectory(at: project.appendingPathComponent("imageprep_hello"), withIntermediateDirectories: true)
        try "VALUE = 'pip was installed first'\n".write(
            to: project.appendingPathComponent("imageprep_hello/__init__.py"), atomically: true, encoding: .utf8)
        try "from setuptools import setup\nsetup(name='imageprep-hello', version='0.1', packages=['imageprep_hello'])\n"
            .write(to: project.appendingPathComponent("setup.py"), atomically: true, encoding: .utf8)
        let modifier = ImageModifier(
            buildah: Buildah(root: buildah.root, runRoot: buildah.runRoot, storageDriver: "vfs", isolation: "chroot"),
            workDirectory: buildah.directory, cleanup: .partial)
        let result = try await modifier.modify(
            sourceImage: withoutPip, task: .devInstall(pythonDirectories: [project.path], refspecs: []), appendTag: "-dev",
            tlsVerify: false, pullBase: false)
        defer { result.finish() }
        let built = "localhost/imageprep-test/dnf:no-pip-dev"
        try buildah.importLayout(result.layout, as: built)
        XCTAssertEqual(try buildah.run(in: built, ["rpm", "-q", "python3-pip"]), "python3-pip-99.0-1.noarch\n")
        XCTAssertEqual(
            try buildah.run(in: built, ["python3", "-c", "import imageprep_hello; print(imageprep_hello.VALUE)"]),
            "pip was installed first\n")
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
