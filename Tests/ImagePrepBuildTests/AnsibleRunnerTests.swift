import Foundation
import ImagePrepPlan
import ImagePrepTestSupport
import XCTest

@testable import ImagePrepBuild

/// `ansible-playbook` running an operator's own role on a real buildah storage.
final class AnsibleRunnerTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-ansible-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// A role `name` under `scratch/roles` whose tasks/main.yml is `tasks`.
    private func writeRole(_ name: String, tasks: String) throws -> String {
        let roles = scratch.appendingPathComponent("roles")
        let directory = roles.appendingPathComponent("\(name)/tasks")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(tasks.utf8).write(to: directory.appendingPathComponent("main.yml"))
        return roles.path
    }

    private func playbook(_ role: String, source: String = "localhost/none:1") -> AnsiblePlaybook {
        AnsiblePlaybook(
            role: role, modifyVars: [ConfigEntry("greeting", .string("hello"))], sourceImage: source,
            targetImage: "localhost/imageprep-test/custom:1", modifiedAppendTag: "-custom")
    }

    private func failure(_ runner: AnsibleRunner, _ playbook: AnsiblePlaybook) async -> BuildError? {
        do {
            _ = try await runner.run(playbook, image: "src", in: scratch.appendingPathComponent("run"))
            return nil
        } catch {
            return error
        }
    }

    func testMissingAnsibleIsOneLineSayingHowToInstallIt() async throws {
        let runner = AnsibleRunner(rolesPath: ["/nonexistent"], ansiblePlaybook: nil)
        let error = await failure(runner, playbook("my-role"))
        XCTAssertEqual(error?.description, "src: modify_role my-role: " + AnsiblePlaybook.ansibleMissing)
    }

    func testMissingRoleNamesThePathsSearched() async throws {
        let runner = AnsibleRunner(rolesPath: [scratch.path, "/etc/ansible/roles"], ansiblePlaybook: "/bin/true")
        let error = await failure(runner, playbook("my-role"))
        XCTAssertEqual(
            error?.description,
            "src: modify_role my-role: ansible role 'my-role' not found (searched \(scratch.path), /etc/ansible/roles): install it or give --roles-path DIR")
    }

    private func ansible() throws -> String {
        guard let path = AnsibleRunner.executable() else { throw XCTSkip("ansible-playbook is not installed (apt-get install ansible-core)") }
        return path
    }

    func testFailingTaskIsNamedWithItsMessageAndTheLog() async throws {
        let roles = try writeRole("broken", tasks: """
            - name: Break on purpose
              command: /bin/sh -c 'echo "no base {{ source_image }}" >&2; exit 3'
            """)
        let runner = AnsibleRunner(rolesPath: [roles], ansiblePlaybook: try ansible())
        let found = await failure(runner, playbook("broken"))
        let error = try XCTUnwrap(found)
        let log = scratch.appendingPathComponent("run/ansible.log").path
        XCTAssertTrue(error.message.hasPrefix("task 'broken : Break on purpose' failed: non-zero return code: no base localhost/none:1"), error.message)
        XCTAssertTrue(error.message.hasSuffix("(full log: \(log))"), error.message)
        XCTAssertTrue(FileManager.default.fileExists(atPath: log))
    }

    func testRoleThatProducesNoImageIsAnError() async throws {
        let fixture = try BuildahFixture()
        defer { fixture.remove() }
        let roles = try writeRole("idle", tasks: """
            - name: Do nothing
              debug: msg="{{ greeting }}"
            """)
        let runner = AnsibleRunner(
            rolesPath: [roles], buildah: Buildah(root: fixture.root, runRoot: fixture.runRoot, storageDriver: "vfs"),
            ansiblePlaybook: try ansible())
        let found = await failure(runner, playbook("idle"))
        let error = try XCTUnwrap(found)
        XCTAssertTrue(
            error.message.hasPrefix("the role finished but left no localhost/imageprep-test/custom:1-custom in containers-storage"),
            error.message)
    }

    /// An operator's role as the seed describes it: buildah from/config/commit on source_image.
    func testCustomRoleBuildsTheModifiedImage() async throws {
        let fixture = try BuildahFixture()
        defer { fixture.remove() }
        let roles = try writeRole("my-role", tasks: """
            - name: From the source
              command: buildah from --pull-never --name imageprep-custom {{ source_image }}
            - name: Label it
              command: buildah config --label greeting={{ greeting }} --label modified_append_tag={{ modified_append_tag }} imageprep-custom
            - name: Commit
              command: buildah commit --rm imageprep-custom {{ target_image }}{{ modified_append_tag }}
            """)
        let runner = AnsibleRunner(
            rolesPath: [roles], buildah: Buildah(root: fixture.root, runRoot: fixture.runRoot, storageDriver: "vfs"),
            ansiblePlaybook: try ansible())
        let image = try await runner.run(
            playbook("my-role", source: fixture.baseImage), image: fixture.baseImage, in: scratch.appendingPathComponent("run"))
        XCTAssertEqual(image.labels["greeting"], "hello")
        XCTAssertEqual(image.labels["modified_append_tag"], "-custom")
        XCTAssertEqual(image.labels["rdo_version"], "1.0-test")
    }
}
