import Foundation
import ImagePrepPlan
import XCTest

@testable import ImagePrepBuild

final class AnsiblePlaybookTests: XCTestCase {
    func testPlaybookIsUpstreams() throws {
        let playbook = AnsiblePlaybook(
            role: "my-role",
            modifyVars: [ConfigEntry("tasks_from", .string("go.yml")), ConfigEntry("count", .number("3")),
                         ConfigEntry("flag", .bool(true)), ConfigEntry("list", .list([.string("a")]))],
            sourceImage: "127.0.0.1:5000/ns/nova:t", targetImage: "127.0.0.1:5000/ns/nova:t", modifiedAppendTag: "-x")
        XCTAssertEqual(playbook.modifiedImage, "127.0.0.1:5000/ns/nova:t-x")
        let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(playbook.text.utf8)) as? [[String: Any]])
        XCTAssertEqual(parsed.count, 1)
        XCTAssertEqual(parsed[0]["hosts"] as? String, "localhost")
        XCTAssertEqual(parsed[0]["gather_facts"] as? Bool, false)
        let task = try XCTUnwrap((parsed[0]["tasks"] as? [[String: Any]])?.first)
        XCTAssertEqual(task["name"] as? String, "Import role my-role")
        XCTAssertEqual((task["import_role"] as? [String: String])?["name"], "my-role")
        let vars = try XCTUnwrap(task["vars"] as? [String: Any])
        XCTAssertEqual(vars["tasks_from"] as? String, "go.yml")
        XCTAssertEqual(vars["count"] as? Int, 3)
        XCTAssertEqual(vars["flag"] as? Bool, true)
        XCTAssertEqual(vars["list"] as? [String], ["a"])
        XCTAssertEqual(vars["source_image"] as? String, "127.0.0.1:5000/ns/nova:t")
        XCTAssertEqual(vars["target_image"] as? String, "127.0.0.1:5000/ns/nova:t")
        XCTAssertEqual(vars["modified_append_tag"] as? String, "-x")
        XCTAssertEqual(vars["container_build_tool"] as? String, "buildah")
    }

    func testRolesPathOrderAndLookup() throws {
        let paths = AnsiblePlaybook.rolesPath(
            extra: ["/opt/r"], environment: ["ANSIBLE_ROLES_PATH": "/a:/b::/opt/r"], home: "/home/u")
        XCTAssertEqual(paths, [
            "/opt/r", "/a", "/b", "/home/u/.ansible/roles", "/usr/share/ansible/tripleo-roles",
            "/usr/share/ansible/roles", "/etc/ansible/roles",
        ])
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("roles-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("second/my-role/tasks"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("first/my-role"), withIntermediateDirectories: true)
        let search = [root.appendingPathComponent("first").path, root.appendingPathComponent("second").path]
        XCTAssertEqual(AnsiblePlaybook.findRole("my-role", in: search), root.appendingPathComponent("second/my-role").path)
        XCTAssertNil(AnsiblePlaybook.findRole("other", in: search))
        XCTAssertEqual(
            AnsiblePlaybook.roleNotFound("other", searched: ["/x", "/y"]),
            "ansible role 'other' not found (searched /x, /y): install it or give --roles-path DIR")
    }

    func testFailingTaskAndMessageFromLog() {
        let log = """
            PLAY [localhost] ***

            TASK [my-role : Pull the base] ***
            ok: [localhost]

            TASK [my-role : Commit] ***
            fatal: [localhost]: FAILED! => {"changed": true, "msg": "non-zero return code", "stderr": "Error: no such image\\n"}

            PLAY RECAP ***
            """
        let failure = AnsiblePlaybook.failure(inLog: log)
        XCTAssertEqual(failure?.task, "my-role : Commit")
        XCTAssertEqual(failure?.message, "non-zero return code: Error: no such image")
        XCTAssertNil(AnsiblePlaybook.failure(inLog: "PLAY RECAP ***\nlocalhost : ok=2 failed=0"))
        // One line whatever the role's output: the message's first paragraph, the first and last lines of stderr.
        let multiline = """
            TASK [my-role : Label it] ***
            fatal: [localhost]: FAILED! => {"msg": "The task includes an option with an undefined variable. The error was: 'x' is undefined\\n\\nThe error appears to be in 'main.yml': line 4\\n\\n  ^ here\\n", "stderr": "cp: no such file\\nsubprocess exited\\n\\nError: it broke\\n\\n"}
            """
        XCTAssertEqual(
            AnsiblePlaybook.failure(inLog: multiline)?.message,
            "The task includes an option with an undefined variable. The error was: 'x' is undefined: cp: no such file … Error: it broke")
    }
}
