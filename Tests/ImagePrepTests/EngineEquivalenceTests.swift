import Foundation
import ImagePrepTestSupport
import XCTest

/// The native engine against the upstream role itself: `imageprep modify` with the native
/// engine and with `--engine ansible` (ansible-role-tripleo-modify-image 1.5.0, unpacked by
/// `scripts/upstream-venv`, through a real `ansible-playbook` and buildah) on the same base
/// and inputs, pushed to a real docker-registry, then compared: the file tree (path, type,
/// mode, owner, content) outside the package managers' databases and caches and /tmp,
/// `rpm -qa` in each image, and the config's User, Labels (but the build tools' own), Env,
/// Entrypoint, Cmd and WorkingDir. What differs is asserted as the README lists it.
final class EngineEquivalenceTests: XCTestCase {
    nonisolated(unsafe) static var fixture: Result<ModificationFixture, any Error>?
    static let repository = "tripleomaster/openstack-app"

    /// What the package managers own (databases, caches) and /tmp: not compared.
    static let packageManagerState = [
        "/var/lib/rpm", "/var/lib/dnf", "/var/lib/yum", "/var/cache", "/tmp",
        // dnf's own logs (timestamps of the run).
        "/var/log/dnf.log", "/var/log/dnf.librepo.log", "/var/log/dnf.rpm.log", "/var/log/hawkey.log",
    ]
    /// Labels the build tools add themselves.
    static let buildToolLabels: Set<String> = ["io.buildah.version"]

    override class func setUp() {
        fixture = Result { try ModificationFixture(seeding: [repository]) }
    }

    override class func tearDown() {
        dnf?.stop()
        try? fixture?.get().stop()
        RPMFixtures.remove()
    }

    struct Started {
        var fixture: ModificationFixture
        /// The directory holding the upstream `tripleo-modify-image`.
        var roles: URL
        var source: String { "\(fixture.source.address)/\(EngineEquivalenceTests.repository):current-tripleo" }
    }

    func started() throws -> Started {
        for tool in ["ansible-playbook", "podman"] where !FileManager.default.isExecutableFile(atPath: "/usr/bin/\(tool)") {
            // The upstream role runs `podman image exists` (rpm_install) and ansible's json_query.
            throw XCTSkip("\(tool) is not installed (scripts/install-deps)")
        }
        let venv = try UpstreamVenv.python().deletingLastPathComponent().deletingLastPathComponent()
        let roles = venv.appendingPathComponent("upstream-ansible/roles")
        guard FileManager.default.fileExists(atPath: roles.appendingPathComponent("tripleo-modify-image/tasks/main.yml").path) else {
            let message = "no upstream tripleo-modify-image in \(roles.path): run scripts/upstream-venv"
            if ProcessInfo.processInfo.environment["CI"] == "true" { throw NSError(domain: message, code: 1) }
            throw XCTSkip(message)
        }
        return Started(fixture: try XCTUnwrap(Self.fixture).get(), roles: roles)
    }

    func modify(
        _ started: Started, engine: String, _ task: [String], target: String, appendTag: String, work: URL,
        rolesPath: String? = nil, environment: [String: String] = [:], source: String? = nil, wrapper: [String] = []
    ) throws -> CLI.Output {
        let fixture = started.fixture
        return try CLI.run([
            "modify", source ?? started.source, target, "--append-tag", appendTag, "--engine", engine,
        ] + task + [
            "--roles-path", rolesPath ?? started.roles.path, "--work-dir", work.path,
            "--storage-driver", "vfs", "--isolation", "chroot", "--buildah-root", fixture.buildah.root,
            "--buildah-runroot", fixture.buildah.runRoot,
            "--insecure-registry", fixture.source.address, "--insecure-registry", fixture.destination.address,
        ], environment: environment, wrapper: wrapper)
    }

    /// What is compared of one image at the destination.
    struct Built {
        var tree: [String: String]
        var packages: Set<String>
        var config: [String: Any]
    }

    func built(_ image: String, _ buildah: BuildahFixture) throws -> Built {
        // fileTree pulls the image into buildah's storage, where it is inspected and run.
        let tree = try buildah.fileTree(of: image).filter { entry in
            !Self.packageManagerState.contains { entry.key == $0 || entry.key.hasPrefix($0 + "/") }
        }
        let packages = Set(try buildah.run(in: image, user: "root", ["rpm", "-qa"]).split(separator: "\n").map(String.init))
        let inspect = try buildah.buildah(["inspect", "--type", "image", image])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [String: Any])
        let config = try XCTUnwrap((object["OCIv1"] as? [String: Any])?["config"] as? [String: Any])
        try buildah.buildah(["rmi", "--force", image])
        return Built(tree: tree, packages: packages, config: config)
    }

    /// Every difference between the native engine's image and the role's, one line each:
    /// `path: native X, role Y`, `rpm -qa: ...`, `KEY: native X, role Y`. The append-tag
    /// label is checked to be each one's own and left out.
    func differences(native: Built, role: Built, nativeTag: String, roleTag: String) -> [String] {
        var found: [String] = []
        for path in Set(native.tree.keys).union(role.tree.keys).sorted() where native.tree[path] != role.tree[path] {
            found.append("\(path): native \(native.tree[path] ?? "missing"), role \(role.tree[path] ?? "missing")")
        }
        if native.packages != role.packages {
            found.append(
                "rpm -qa: native only \(native.packages.subtracting(role.packages).sorted()), role only \(role.packages.subtracting(native.packages).sorted())")
        }
        var nativeLabels = (native.config["Labels"] as? [String: String]) ?? [:]
        var roleLabels = (role.config["Labels"] as? [String: String]) ?? [:]
        XCTAssertEqual(nativeLabels.removeValue(forKey: "modified_append_tag"), nativeTag)
        XCTAssertEqual(roleLabels.removeValue(forKey: "modified_append_tag"), roleTag)
        for label in Self.buildToolLabels {
            nativeLabels[label] = nil
            roleLabels[label] = nil
        }
        if nativeLabels != roleLabels { found.append("Labels: native \(nativeLabels.sorted { $0.key < $1.key }), role \(roleLabels.sorted { $0.key < $1.key })") }
        for key in ["User", "Env", "Entrypoint", "Cmd", "WorkingDir"] {
            let (a, b) = (native.config[key], role.config[key])
            if (a as? NSObject) != (b as? NSObject) {
                found.append("\(key): native \(a.map { "\($0)" } ?? "unset"), role \(b.map { "\($0)" } ?? "unset")")
            }
        }
        return found
    }

    /// modify_image with a Dockerfile that copies, labels, runs and switches users: buildah
    /// builds it either way, and the images agree.
    func testModifyImageAsTheUpstreamRoleBuildsIt() throws {
        let started = try started()
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let context = work.appendingPathComponent("hotfix")
        try FileManager.default.createDirectory(at: context, withIntermediateDirectories: true)
        try """
            FROM centos:stream9
            LABEL maintainer="ops team" com.example.hotfix="1"
            USER root
            COPY tool /opt/app/bin/tool
            COPY app.conf /etc/app/app.conf
            RUN touch /opt/app/ran && chmod 0640 /etc/app/app.conf
            ENV APP_MODE=hotfix
            USER nova
            """.write(to: context.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        try "#!/bin/sh\necho tool\n".write(to: context.appendingPathComponent("tool"), atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: context.appendingPathComponent("tool").path)
        try "mode: hotfix\n".write(to: context.appendingPathComponent("app.conf"), atomically: true, encoding: .utf8)
        let task = ["--tasks-from", "modify_image", "--modify-dir-path", context.path]
        let target = "\(started.fixture.destination.address)/apps/app:1"
        let buildah = started.fixture.buildah

        let native = try modify(started, engine: "auto", task, target: target, appendTag: "-native", work: work)
        XCTAssertEqual(native.status, 0, native.stderr)
        XCTAssertTrue(native.stdout.hasPrefix("built \(target)-native (modify_image.yml, buildah ("), native.stdout)
        let role = try modify(started, engine: "ansible", task, target: target, appendTag: "-ansible", work: work)
        XCTAssertEqual(role.status, 0, role.stderr)
        XCTAssertTrue(
            role.stdout.hasPrefix("built \(target)-ansible (tripleo-modify-image modify_image.yml, ansible-playbook, 1 base layer(s) reused, "),
            role.stdout)

        let nativeImage = try built("\(target)-native", buildah)
        let roleImage = try built("\(target)-ansible", buildah)
        XCTAssertEqual(roleImage.tree["/opt/app/ran"]?.hasPrefix("file 644 0:0 0 sha256:"), true, roleImage.tree["/opt/app/ran"] ?? "missing")
        XCTAssertEqual(roleImage.tree["/etc/app/app.conf"]?.hasPrefix("file 640 0:0 "), true, roleImage.tree["/etc/app/app.conf"] ?? "missing")
        XCTAssertEqual((roleImage.config["Labels"] as? [String: String])?["maintainer"], "ops team")
        XCTAssertEqual(roleImage.config["User"] as? String, "nova")
        XCTAssertEqual(
            differences(native: nativeImage, role: roleImage, nativeTag: "-native", roleTag: "-ansible"), [])
        // The role writes its rewritten Dockerfile into the operator's modify_dir_path (a
        // tempfile it never removes), which is also the build context; imageprep writes its
        // own outside it.
        let left = try FileManager.default.contentsOfDirectory(atPath: context.path).filter { $0.hasPrefix("Dockerfile.") }
        XCTAssertEqual(left.count, 1, "\(left)")
        XCTAssertTrue(
            try String(contentsOf: context.appendingPathComponent(left[0]), encoding: .utf8).hasPrefix("FROM \(started.source)\nLABEL modified_append_tag=-ansible\n"))
    }

    /// rpm_install of RPMs without scriptlets: the native engine writes the layer itself (no
    /// rpm run in the image), the role runs rpm -Uvh in a buildah build; and the native
    /// buildah build against the role.
    func testRPMInstallAsTheUpstreamRoleInstalls() throws {
        let started = try started()
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let rpms = try RPMFixtures.build()
        let directory = work.appendingPathComponent("rpms")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for rpm in [rpms.new, rpms.arch] {
            try FileManager.default.copyItem(atPath: rpm, toPath: directory.appendingPathComponent((rpm as NSString).lastPathComponent).path)
        }
        let task = ["--tasks-from", "rpm_install", "--rpms-path", directory.path]
        let target = "\(started.fixture.destination.address)/apps/hotfixed:1"
        let buildah = started.fixture.buildah

        let native = try modify(started, engine: "auto", task, target: target, appendTag: "-native", work: work)
        XCTAssertEqual(native.status, 0, native.stderr)
        XCTAssertTrue(native.stdout.hasPrefix("built \(target)-native (rpm_install.yml, layer engine, "), native.stdout)
        let role = try modify(started, engine: "ansible", task, target: target, appendTag: "-ansible", work: work)
        XCTAssertEqual(role.status, 0, role.stderr)
        XCTAssertTrue(
            role.stdout.hasPrefix("built \(target)-ansible (tripleo-modify-image rpm_install.yml, ansible-playbook, 1 base layer(s) reused, "),
            role.stdout)

        let nativeImage = try built("\(target)-native", buildah)
        let roleImage = try built("\(target)-ansible", buildah)
        XCTAssertTrue(roleImage.packages.isSuperset(of: ["hotfix-1.1-2.noarch", "hotfix-tool-2.0-1.x86_64"]), "\(roleImage.packages)")
        XCTAssertEqual(roleImage.config["User"] as? String, "nova")
        // What buildah's RUN leaves in its layer when the base has none of them (mount points
        // and the empty files it binds over), which the layer engine, running nothing, does
        // not: the README lists it.
        let empty = "file 755 0:0 0 sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        XCTAssertEqual(
            differences(native: nativeImage, role: roleImage, nativeTag: "-native", roleTag: "-ansible"),
            ["/dev: native missing, role dir 755 0:0", "/etc/hostname: native missing, role \(empty)",
             "/etc/hosts: native missing, role \(empty)", "/etc/resolv.conf: native missing, role \(empty)",
             "/proc: native missing, role dir 755 0:0", "/run: native missing, role dir 755 0:0",
             "/sys: native missing, role dir 755 0:0"])

        // The native buildah build (--engine buildah) against the role: no difference at all.
        let viaBuildah = try modify(started, engine: "buildah", task, target: target, appendTag: "-buildah", work: work)
        XCTAssertEqual(viaBuildah.status, 0, viaBuildah.stderr)
        XCTAssertTrue(viaBuildah.stdout.hasPrefix("built \(target)-buildah (rpm_install.yml, buildah, "), viaBuildah.stdout)
        XCTAssertEqual(
            differences(native: try built("\(target)-buildah", buildah), role: roleImage, nativeTag: "-buildah", roleTag: "-ansible"), [])
    }

    /// Without the role on any path: one line naming the paths and how to install it.
    func testMissingUpstreamRoleSaysHowToInstallIt() throws {
        let started = try started()
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let nowhere = work.appendingPathComponent("no-roles").path
        let run = try modify(
            started, engine: "ansible", ["--tasks-from", "rpm_install", "--rpms-path", work.path],
            target: "\(started.fixture.destination.address)/apps/missing:1", appendTag: "-x", work: work, rolesPath: nowhere,
            environment: ["ANSIBLE_ROLES_PATH": "", "VIRTUAL_ENV": ""])
        XCTAssertEqual(run.status, 1, run.stdout)
        let lines = run.stderr.split(separator: "\n").filter { $0.contains("not found") }
        XCTAssertEqual(lines.count, 1, run.stderr)
        XCTAssertTrue(
            lines.first?.contains(
                "modify_role tripleo-modify-image: ansible role 'tripleo-modify-image' not found (searched \(nowhere), ") == true,
            run.stderr)
        XCTAssertTrue(
            lines.first?.contains("/usr/share/ansible/roles, /etc/ansible/roles, /usr/local/share/ansible/roles, ") == true, run.stderr)
        XCTAssertTrue(
            lines.first?.hasSuffix(
                "/.local/share/ansible/roles): --engine ansible runs the upstream role; install it with pip install ansible-role-tripleo-modify-image==1.5.0 (it goes to PREFIX/share/ansible/roles/tripleo-modify-image) or give --roles-path DIR") == true,
            run.stderr)
    }
}
