import Foundation
import ImagePrepTestSupport
import XCTest

/// yum_install, yum_update and dev_install: the native engine against the upstream role, on
/// an EL-like dnf image (Debian trixie with rpm and dnf, `/usr/bin/yum` as EL images have it,
/// its own repo file naming the test repository) and the same repositories.
///
/// The role decides between dnf and yum on the host (`command -v dnf || command -v yum`), so
/// the host needs dnf (Debian's `dnf` package, `scripts/install-deps`); its yum_update mounts
/// the host's `/etc/pki`, which a Debian host lacks, and appends to the host's
/// `/var/log/container_image_update_output.log`: both engines run in a private mount
/// namespace with `/etc` and `/var/log` overlaid (`/etc/pki` created there), so the host is
/// left as it was.
extension EngineEquivalenceTests {
    nonisolated(unsafe) static var dnf: DnfFixture?
    nonisolated(unsafe) static var dnfBases: Result<DnfBases, any Error>?

    struct DnfBases {
        /// The EL-like image, without pip: tripleomaster/openstack-dnf.
        var plain: String
        /// The same with hotfix 1.0-1 installed: tripleomaster/openstack-dnf-hotfix.
        var withHotfix: String
        var reposDirectory: URL
    }

    /// The dnf bases in the source registry, made once for the class; the test repository
    /// holds hotfix 3:1.1-2 and python3-pip.
    func dnfBases(_ started: Started) throws -> DnfBases {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dnf") else {
            throw XCTSkip("the upstream role's yum tasks need dnf on the host (scripts/install-deps)")
        }
        if let made = Self.dnfBases { return try made.get() }
        let made = Result { () throws -> DnfBases in
            let buildah = started.fixture.buildah
            let dnf = try DnfFixture(buildah: buildah)
            Self.dnf = dnf
            let rpms = try RPMFixtures.build()
            try dnf.publish([rpms.new, try RPMFixtures.pipCommand(in: rpms.directory)])
            let registry = started.fixture.source.address
            let container = try buildah.buildah(["from", "--pull-never", dnf.image]).trimmingCharacters(in: .whitespacesAndNewlines)
            try buildah.buildah([
                "run", "--isolation", "chroot", "--user", "root", container, "--", "sh", "-c",
                "ln -s dnf-3 /usr/bin/yum && rm -f /usr/bin/pip /usr/bin/pip3 /usr/bin/pip3.* && mkdir -p /etc/yum.repos.d",
            ])
            try buildah.buildah([
                "copy", container, dnf.reposDirectory.appendingPathComponent("imageprep-test.repo").path, "/etc/yum.repos.d/imageprep-test.repo",
            ])
            // Offline, pip builds with the image's setuptools, in an image Debian marks
            // externally managed: the same for both engines.
            try buildah.buildah(["config", "--env", "PIP_NO_BUILD_ISOLATION=0", "--env", "PIP_BREAK_SYSTEM_PACKAGES=1", container])
            try buildah.buildah(["commit", "--rm", container, "localhost/imageprep-test/el-like:1"])
            let plain = "\(registry)/tripleomaster/openstack-dnf:current-tripleo"
            try buildah.buildah(["push", "--tls-verify=false", "localhost/imageprep-test/el-like:1", "docker://\(plain)"])

            let hotfix = try buildah.buildah(["from", "--pull-never", "localhost/imageprep-test/el-like:1"])
                .trimmingCharacters(in: .whitespacesAndNewlines)
            try buildah.buildah(["copy", hotfix, rpms.old, "/tmp/hotfix.rpm"])
            try buildah.buildah([
                "run", "--isolation", "chroot", "--user", "root", hotfix, "--", "sh", "-c", "rpm -i /tmp/hotfix.rpm && rm /tmp/hotfix.rpm",
            ])
            try buildah.buildah(["commit", "--rm", hotfix, "localhost/imageprep-test/el-like:hotfix"])
            let withHotfix = "\(registry)/tripleomaster/openstack-dnf-hotfix:current-tripleo"
            try buildah.buildah(["push", "--tls-verify=false", "localhost/imageprep-test/el-like:hotfix", "docker://\(withHotfix)"])
            return DnfBases(plain: plain, withHotfix: withHotfix, reposDirectory: dnf.reposDirectory)
        }
        Self.dnfBases = made
        return try made.get()
    }

    /// `unshare` into a private mount namespace with `/etc` and `/var/log` overlaid (the
    /// upper directories under `work`), `/etc/pki` made there.
    func privateHostDirectories(_ work: URL) throws -> [String] {
        let upper = work.appendingPathComponent("overlays")
        try FileManager.default.createDirectory(at: upper, withIntermediateDirectories: true)
        let script = """
            set -e
            u="$1"; shift
            for d in etc log; do mkdir -p "$u/$d-upper" "$u/$d-work"; done
            mount -t overlay overlay -o "lowerdir=/etc,upperdir=$u/etc-upper,workdir=$u/etc-work" /etc
            mount -t overlay overlay -o "lowerdir=/var/log,upperdir=$u/log-upper,workdir=$u/log-work" /var/log
            mkdir -p /etc/pki
            exec "$@"
            """
        return ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", upper.path]
    }

    /// Both engines on `source` with `task`; returns the differences.
    func compareEngines(
        _ started: Started, source: String, task: [String], name: String, work: URL, roleBuildsADockerfile: Bool = false,
        check: (Built, Built) throws -> Void = { _, _ in }
    ) throws -> [String] {
        let wrapper = try privateHostDirectories(work)
        let target = "\(started.fixture.destination.address)/apps/\(name):1"
        let native = try modify(started, engine: "auto", task, target: target, appendTag: "-native", work: work, source: source, wrapper: wrapper)
        XCTAssertEqual(native.status, 0, native.stderr)
        let role = try modify(started, engine: "ansible", task, target: target, appendTag: "-ansible", work: work, source: source, wrapper: wrapper)
        XCTAssertEqual(role.status, 0, role.stderr)
        XCTAssertTrue(role.stdout.hasPrefix("built \(target)-ansible (tripleo-modify-image "), role.stdout)
        let buildah = started.fixture.buildah
        var nativeImage = try built("\(target)-native", buildah)
        let roleImage = try built("\(target)-ansible", buildah)
        try check(nativeImage, roleImage)
        // The base sets no PATH: a buildah build (the native engine's Dockerfile) adds
        // buildah's default, the role's `buildah run` and `commit` (yum tasks) do not (the
        // README lists it; TripleO's bases set PATH). Checked here, then left out.
        if !roleBuildsADockerfile {
            let nativeEnv = nativeImage.config["Env"] as? [String] ?? []
            let roleEnv = roleImage.config["Env"] as? [String] ?? []
            XCTAssertTrue(nativeEnv.contains(Self.buildahDefaultPath), "\(nativeEnv)")
            XCTAssertFalse(roleEnv.contains { $0.hasPrefix("PATH=") }, "\(roleEnv)")
            nativeImage.config["Env"] = nativeEnv.filter { $0 != Self.buildahDefaultPath }
        }
        return differences(native: nativeImage, role: roleImage, nativeTag: "-native", roleTag: "-ansible")
    }

    static let buildahDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    func testYumInstallAsTheUpstreamRoleInstalls() throws {
        let started = try started()
        let bases = try dnfBases(started)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let found = try compareEngines(
            started, source: bases.plain,
            task: ["--tasks-from", "yum_install", "--var", "yum_packages=[hotfix]", "--var", "yum_repos_dir_path=\(bases.reposDirectory.path)"],
            name: "yum-install", work: work
        ) { native, role in
            XCTAssertTrue(native.packages.contains("hotfix-1.1-2.noarch"), "\(native.packages)")
            XCTAssertTrue(role.packages.contains("hotfix-1.1-2.noarch"), "\(role.packages)")
        }
        XCTAssertEqual(found, [])
    }

    func testYumUpdateAsTheUpstreamRoleUpdates() throws {
        let started = try started()
        let bases = try dnfBases(started)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let found = try compareEngines(
            started, source: bases.withHotfix,
            task: ["--tasks-from", "yum_update", "--var", "update_repo=imageprep-test", "--var", "yum_repos_dir_path=\(bases.reposDirectory.path)"],
            name: "yum-update", work: work
        ) { native, role in
            XCTAssertTrue(native.packages.contains("hotfix-1.1-2.noarch"), "\(native.packages)")
            XCTAssertTrue(role.packages.contains("hotfix-1.1-2.noarch"), "\(role.packages)")
        }
        // The role's `buildah run ... yum list installed` runs as the image's user (nobody),
        // so dnf leaves its per-user cache in the role's image; imageprep's image has none.
        XCTAssertFalse(found.isEmpty)
        XCTAssertEqual(found.filter { !($0.hasPrefix("/var/tmp/dnf-nobody-") && $0.contains(": native missing, role ")) }, [])
    }

    func testDevInstallAsTheUpstreamRoleInstalls() throws {
        let started = try started()
        let bases = try dnfBases(started)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let project = work.appendingPathComponent("imageprep-hello")
        try FileManager.default.createDirectory(at: project.appendingPathComponent("imageprep_hello"), withIntermediateDirectories: true)
        try "VALUE = 'dev'\n".write(to: project.appendingPathComponent("imageprep_hello/__init__.py"), atomically: true, encoding: .utf8)
        try "from setuptools import setup\nsetup(name='imageprep-hello', version='0.1', packages=['imageprep_hello'])\n"
            .write(to: project.appendingPathComponent("setup.py"), atomically: true, encoding: .utf8)
        let found = try compareEngines(
            started, source: bases.plain, task: ["--tasks-from", "dev_install", "--var", "python_dir=[\(project.path)]"],
            name: "dev-install", work: work, roleBuildsADockerfile: true
        ) { native, role in
            XCTAssertTrue(native.packages.contains("python3-pip-99.0-1.noarch"), "\(native.packages)")
            XCTAssertTrue(role.packages.contains("python3-pip-99.0-1.noarch"), "\(role.packages)")
            let module = "/usr/local/lib/python3.13/dist-packages/imageprep_hello/__init__.py"
            XCTAssertEqual(native.tree[module], role.tree[module])
            XCTAssertNotNil(native.tree[module])
        }
        // The role builds an sdist on the host and pip installs the tarball, leaving pip's
        // wheel cache in /root/.cache; imageprep installs the tree itself. So the installed
        // distribution records another origin (direct_url.json, RECORD) and the bytecode
        // another source path; the module itself is the same (above).
        let explained = found.filter {
            ($0.hasPrefix("/root/.cache") && $0.contains(": native missing, role "))
                || $0.hasPrefix("/usr/local/lib/python3.13/dist-packages/imageprep_hello-0.1.dist-info/RECORD: ")
                || $0.hasPrefix("/usr/local/lib/python3.13/dist-packages/imageprep_hello-0.1.dist-info/direct_url.json: ")
                || $0.hasPrefix("/usr/local/lib/python3.13/dist-packages/imageprep_hello/__pycache__/")
        }
        XCTAssertTrue(found.contains { $0.hasPrefix("/root/.cache/pip") }, "\(found)")
        XCTAssertEqual(Set(found).subtracting(explained), [])
    }
}
