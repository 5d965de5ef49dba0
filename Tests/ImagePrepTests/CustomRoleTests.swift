import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// An operator's own `modify_role`, run from `prepare` as tripleo-common runs it: the source
/// into containers-storage (a private buildah storage), the upstream playbook through a real
/// `ansible-playbook`, the role's `buildah from`/`run`/`config`/`commit` on `source_image`,
/// and its image pushed to a real docker-registry destination.
final class CustomRoleTests: XCTestCase {
    nonisolated(unsafe) static var fixture: Result<ModificationFixture, any Error>?
    /// Debian's apache2 with tripleo-ansible's image-serve vhost.
    nonisolated(unsafe) static var imageServe: Result<ImageServeServer, any Error>?
    static let repository = "tripleomaster/openstack-keystone"

    override class func setUp() {
        fixture = Result { try ModificationFixture(seeding: [repository]) }
        imageServe = Result { try ImageServeServer() }
    }

    override class func tearDown() {
        if let fixture = try? fixture?.get() { fixture.stop() }
        if let imageServe = try? imageServe?.get() { imageServe.stop() }
    }

    private func started() throws -> ModificationFixture {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ansible-playbook") else {
            throw XCTSkip("ansible-playbook is not installed (apt-get install ansible-core)")
        }
        return try XCTUnwrap(Self.fixture).get()
    }

    /// A work directory with `roles/my-role` (the operator's role: a marker file, a label,
    /// committed as `target_image + modified_append_tag`), `roles/broken` (a task that
    /// fails) and a one-image template.
    private func workDirectory() throws -> URL {
        let work = try CLI.temporaryDirectory()
        func role(_ name: String, _ tasks: String) throws {
            let directory = work.appendingPathComponent("roles/\(name)/tasks")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try tasks.write(to: directory.appendingPathComponent("main.yml"), atomically: true, encoding: .utf8)
        }
        try role("my-role", """
            - name: From the source
              command: buildah from --pull-never {{ source_image }}
              register: working
            - name: Leave a marker
              command: buildah run --user root {{ working.stdout }} -- /bin/sh -c 'echo {{ greeting }} > /marker'
            - name: Label it
              command: buildah config --label greeting={{ greeting }} {{ working.stdout }}
            - name: Commit
              command: buildah commit --rm {{ working.stdout }} {{ target_image }}{{ modified_append_tag }}
            - name: The run's logins reach the role as a file
              shell: test -n "$REGISTRY_AUTH_FILE" && grep -q '"{{ auth_registry }}"' "$REGISTRY_AUTH_FILE"
              when: auth_registry is defined
            - name: Record the names it was given
              copy:
                content: "source_image={{ source_image }} target_image={{ target_image }}\n"
                dest: "\(work.path)/role-saw"
            """)
        try role("broken", """
            - name: A working container the role leaves behind
              command: buildah from --pull-never {{ source_image }}
            - name: Break on purpose
              command: /bin/sh -c 'echo "cannot modify {{ source_image }}" >&2; exit 3'
            """)
        try """
            container_images_template:
            - imagename: "{{namespace}}/openstack-keystone:{{tag}}"
              params: [ContainerKeystoneImage]
            """.write(to: work.appendingPathComponent("containers.yaml.j2"), atomically: true, encoding: .utf8)
        return work
    }

    private func environment(
        _ fixture: ModificationFixture, role: String, appendTag: String, in work: URL, destination: String? = nil,
        credentials: Bool = false
    ) throws -> URL {
        let file = work.appendingPathComponent("\(role)\(appendTag).yaml")
        let destination = destination ?? fixture.destination.address
        try """
            parameter_defaults:
              DockerInsecureRegistryAddress: [\(fixture.source.address), \(destination)]
              ContainerImagePrepare:
              - push_destination: \(destination)
                set: {namespace: \(fixture.source.address)/tripleomaster, tag: current-tripleo}
                modify_role: \(role)
                modify_append_tag: \(appendTag)
                modify_vars: {greeting: hello-from-the-role\(credentials ? ", auth_registry: \(fixture.source.address)" : "")}
            """.write(to: file, atomically: true, encoding: .utf8)
        if credentials {
            try """
                parameter_defaults:
                  ContainerImageRegistryCredentials: {\(fixture.source.address): {operator: not-on-any-command-line}}
                """.write(to: work.appendingPathComponent("credentials.yaml"), atomically: true, encoding: .utf8)
        }
        return file
    }

    private func prepare(_ fixture: ModificationFixture, _ env: URL, in work: URL, _ extra: [String] = []) throws -> CLI.Output {
        let credentials = work.appendingPathComponent("credentials.yaml")
        let more = FileManager.default.fileExists(atPath: credentials.path) ? ["-e", credentials.path] : []
        return try CLI.run(["prepare", "-e", env.path] + more + [
            "--template-file", work.appendingPathComponent("containers.yaml.j2").path,
            "--roles-path", work.appendingPathComponent("roles").path, "--work-dir", work.path, "--no-cache",
            "--storage-driver", "vfs", "--isolation", "chroot", "--buildah-root", fixture.buildah.root,
            "--buildah-runroot", fixture.buildah.runRoot,
        ] + extra)
    }

    private func localNames(_ fixture: ModificationFixture) throws -> [String] {
        try fixture.buildah.buildah(["images", "--format", "{{.Name}}:{{.Tag}}"]).split(separator: "\n").map(String.init)
    }

    func testCustomRoleFromPrepareToARegistry() throws {
        let fixture = try started()
        let work = try workDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        // With the run's credentials, which the role gets in a private auth file.
        let env = try environment(fixture, role: "my-role", appendTag: "-mine", in: work, credentials: true)
        let modified = "\(fixture.destination.address)/\(Self.repository):current-tripleo-mine"
        let sourceName = "\(fixture.source.address)/\(Self.repository):current-tripleo"

        // The plan names the role and how it runs.
        let dry = try prepare(fixture, env, in: work, ["--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertTrue(dry.stdout.contains("\(modified)  modify: role my-role (ansible-playbook)"), dry.stdout)

        let output = work.appendingPathComponent("images.yaml")
        let first = try prepare(fixture, env, in: work, ["--output-env-file", output.path])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("built   \(modified) (my-role, ansible-playbook, 1 base layer(s) reused, "), first.stderr)
        XCTAssertTrue(try String(contentsOf: output, encoding: .utf8).contains("ContainerKeystoneImage: \(modified)\n"))
        // --cleanup full (the default): neither the loaded source nor the role's image stays,
        // and nothing of the playbook's directory.
        let names = try localNames(fixture)
        XCTAssertFalse(names.contains(sourceName), "\(names)")
        XCTAssertFalse(names.contains(modified), "\(names)")
        // The unmodified image went to the destination under the source's tag, the name the
        // role got as source_image (loaded, then removed by --cleanup full), as upstream.
        let unmodified = "\(fixture.destination.address)/\(Self.repository):current-tripleo"
        XCTAssertFalse(names.contains(unmodified), "\(names)")
        let listed = try CLI.run(["image", "list", "--registry", fixture.destination.address, "--insecure-registry", fixture.destination.address])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.split(separator: "\n").contains(Substring(unmodified)), listed.stdout)
        XCTAssertTrue(
            try String(contentsOf: work.appendingPathComponent("role-saw"), encoding: .utf8).contains("source_image=\(unmodified) target_image=\(unmodified)"))
        XCTAssertFalse(
            try FileManager.default.contentsOfDirectory(atPath: work.path).contains { $0.hasPrefix("ansible-") || $0.hasPrefix("imageprep-") })

        // At the destination: the base's file tree plus the role's marker, the role's label.
        let tree = try fixture.buildah.fileTree(of: modified)
        let marker = try XCTUnwrap(tree["/marker"], "no /marker in \(modified)")
        XCTAssertTrue(marker.hasPrefix("file 644 0:0 20 sha256:"), marker)
        XCTAssertEqual(try fixture.buildah.run(in: modified, ["/bin/cat", "/marker"]), "hello-from-the-role\n")
        let labels = try fixture.buildah.buildah(["inspect", "--format", "{{.OCIv1.Config.Labels.greeting}}", modified])
        XCTAssertEqual(labels.trimmingCharacters(in: .whitespacesAndNewlines), "hello-from-the-role")
        XCTAssertEqual(tree["/etc/os-release"], try fixture.buildah.fileTree(of: sourceName)["/etc/os-release"])
        try fixture.buildah.buildah(["rmi", "--force", modified, sourceName])

        // Already there: nothing is pulled, run or pushed.
        let again = try prepare(fixture, env, in: work)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("skipped \(modified) (already modified)"), again.stderr)
        XCTAssertFalse(try localNames(fixture).contains(sourceName))
    }

    /// The role's image written into the undercloud's image-serve directory, apache2 serving
    /// it: the base layer is the source's own blob, the role's layer on top.
    func testCustomRoleToImageServe() async throws {
        let fixture = try started()
        let imageServe = try XCTUnwrap(Self.imageServe).get()
        let work = try workDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let env = try environment(fixture, role: "my-role", appendTag: "-served", in: work, destination: imageServe.address)
        let served = "\(imageServe.address)/\(Self.repository):current-tripleo-served"
        let run = try prepare(fixture, env, in: work, ["--image-serve-dir", imageServe.root.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("built   \(served) (my-role, ansible-playbook, 1 base layer(s) reused, "), run.stderr)
        XCTAssertTrue(run.stdout.contains("ContainerKeystoneImage: \(served)\n"), run.stdout)
        try fixture.buildah.buildah(["pull", "--quiet", "--tls-verify=false", served])
        XCTAssertEqual(try fixture.buildah.run(in: served, ["/bin/cat", "/marker"]), "hello-from-the-role\n")
        let client = RegistryClient(configuration: RegistryClient.Configuration(
            insecureRegistries: [fixture.source.address, imageServe.address]))
        let layers = try await client.resolveImage(try Reference(served)).manifest.layers
        let sourceLayers = try await client.resolveImage(
            try Reference("\(fixture.source.address)/\(Self.repository):current-tripleo")).manifest.layers
        XCTAssertEqual(layers.count, 2, "\(layers)")
        XCTAssertEqual(layers.first?.digest, sourceLayers.first?.digest)
        try fixture.buildah.buildah(["rmi", "--force", served])
        let again = try prepare(fixture, env, in: work, ["--image-serve-dir", imageServe.root.path])
        XCTAssertTrue(again.stderr.contains("skipped \(served) (already modified)"), again.stderr)
    }

    func testFailingOrMissingRoleIsOneLine() throws {
        let fixture = try started()
        let work = try workDirectory()
        defer { try? FileManager.default.removeItem(at: work) }

        let broken = try prepare(fixture, try environment(fixture, role: "broken", appendTag: "-broken", in: work, credentials: true), in: work, ["--cleanup", "partial"])
        XCTAssertEqual(broken.status, 1, broken.stderr)
        let line = try XCTUnwrap(broken.stderr.split(separator: "\n").first { $0.contains("task 'broken : Break on purpose' failed") }, broken.stderr)
        XCTAssertTrue(broken.stderr.contains("Error: 1 image(s) failed; no output file was written:\n"), broken.stderr)
        XCTAssertTrue(
            line.hasPrefix("  \(fixture.source.address)/\(Self.repository):current-tripleo: modify_role broken: task "), String(line))
        // The role's source_image is the unmodified image at the destination, as upstream's.
        XCTAssertTrue(line.contains("non-zero return code: cannot modify \(fixture.destination.address)/\(Self.repository):current-tripleo"), String(line))
        let logPath = try XCTUnwrap(line.range(of: "(full log: ").map { String(line[$0.upperBound...].dropLast()) }, String(line))
        XCTAssertTrue(logPath.hasPrefix(work.path + "/ansible-"), logPath)
        let log = try String(contentsOfFile: logPath, encoding: .utf8)
        XCTAssertTrue(log.contains("TASK [broken : Break on purpose]"), log)
        XCTAssertFalse(log.contains("not-on-any-command-line"), "a password in the kept log")
        XCTAssertFalse(broken.stderr.contains("not-on-any-command-line"))
        // --cleanup partial removes the loaded source even when the role fails, and the
        // working container the role left on it.
        XCTAssertFalse(try localNames(fixture).contains("\(fixture.destination.address)/\(Self.repository):current-tripleo"))
        XCTAssertEqual(try fixture.buildah.buildah(["containers", "--all", "--noheading"]), "")

        let missing = try prepare(fixture, try environment(fixture, role: "nowhere", appendTag: "-x", in: work), in: work)
        XCTAssertEqual(missing.status, 1, missing.stderr)
        XCTAssertTrue(
            missing.stderr.contains(
                "modify_role nowhere: ansible role 'nowhere' not found (searched \(work.path)/roles, "),
            missing.stderr)
        XCTAssertTrue(missing.stderr.contains("/etc/ansible/roles): install it or give --roles-path DIR"), missing.stderr)
    }

    /// `imageprep modify --modify-role`: the same path for one image.
    func testModifyCommandRunsTheRole() throws {
        let fixture = try started()
        let work = try workDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let target = "\(fixture.destination.address)/custom/keystone:1"
        let run = try CLI.run([
            "modify", "\(fixture.source.address)/\(Self.repository):1.0-test", target, "--modify-role", "my-role",
            "--var", "greeting=from-modify", "--append-tag", "-cli", "--roles-path", work.appendingPathComponent("roles").path,
            "--insecure-registry", fixture.source.address, "--insecure-registry", fixture.destination.address,
            "--work-dir", work.path, "--cleanup", "partial", "--storage-driver", "vfs", "--isolation", "chroot",
            "--buildah-root", fixture.buildah.root, "--buildah-runroot", fixture.buildah.runRoot,
        ])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.hasPrefix("built \(target)-cli (my-role, ansible-playbook, "), run.stdout)
        // --cleanup partial: the role's image stays in containers-storage, the loaded source goes.
        let names = try localNames(fixture)
        XCTAssertTrue(names.contains("\(target)-cli"), "\(names)")
        XCTAssertFalse(names.contains("\(fixture.source.address)/\(Self.repository):1.0-test"), "\(names)")
        XCTAssertEqual(try fixture.buildah.run(in: "\(target)-cli", ["/bin/cat", "/marker"]), "from-modify\n")
        try fixture.buildah.buildah(["rmi", "--force", "\(target)-cli"])

        let noTask = try CLI.run(["modify", "a/b:1", "c/d:1"])
        XCTAssertEqual(noTask.status, 2)
        XCTAssertTrue(noTask.stderr.hasPrefix("Error: --tasks-from is required for tripleo-modify-image\n"), noTask.stderr)
    }
}
