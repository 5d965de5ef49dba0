import Foundation
import ImagePrepPlan

/// The playbook tripleo-common 18.0.0 writes to run a `modify_role` (`image_uploader.py`,
/// `run_modify_playbook`), and the role directories `ansible-playbook` searches as upstream's
/// `roles_path` does. A value: writing it and running `ansible-playbook` are the caller's.
public struct AnsiblePlaybook: Sendable, Equatable {
    public var role: String
    public var modifyVars: [ConfigEntry]
    public var sourceImage: String
    public var targetImage: String
    public var modifiedAppendTag: String

    public init(role: String, modifyVars: [ConfigEntry], sourceImage: String, targetImage: String, modifiedAppendTag: String) {
        self.role = role
        self.modifyVars = modifyVars
        self.sourceImage = sourceImage
        self.targetImage = targetImage
        self.modifiedAppendTag = modifiedAppendTag
    }

    /// The image the role is expected to leave in containers-storage.
    public var modifiedImage: String { targetImage + modifiedAppendTag }

    /// `[{hosts: localhost, gather_facts: no, tasks: [{name: "Import role R", import_role:
    /// {name: R}, vars: modify_vars + source_image, target_image, modified_append_tag,
    /// container_build_tool: buildah}]}]`, as JSON (which is YAML), keys sorted.
    public var text: String {
        var vars: [String: Any] = [:]
        for entry in modifyVars { vars[entry.key] = Self.json(entry.value) }
        vars["source_image"] = sourceImage
        vars["target_image"] = targetImage
        vars["modified_append_tag"] = modifiedAppendTag
        vars["container_build_tool"] = "buildah"
        let playbook: [[String: Any]] = [[
            "hosts": "localhost",
            "gather_facts": false,
            "tasks": [["name": "Import role \(role)", "import_role": ["name": role], "vars": vars]],
        ]]
        let data = (try? JSONSerialization.data(withJSONObject: playbook, options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private static func json(_ value: ConfigValue) -> Any {
        switch value {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let n):
            if let i = Int(n) { return i }
            if let d = Double(n), d.isFinite { return d }
            return n
        case .string(let s): return s
        case .list(let items): return items.map(json)
        case .map(let entries):
            var map: [String: Any] = [:]
            for entry in entries { map[entry.key] = json(entry.value) }
            return map
        }
    }

    /// The directories searched for a role, in order: `--roles-path` options, then
    /// `ANSIBLE_ROLES_PATH` (colon separated), `~/.ansible/roles`,
    /// `/usr/share/ansible/tripleo-roles`, `/usr/share/ansible/roles`, `/etc/ansible/roles`.
    /// With `pipInstalled` (the upstream `tripleo-modify-image`, which pip installs under
    /// `PREFIX/share/ansible/roles`) also the prefixes of `pip install` in a venv
    /// (`$VIRTUAL_ENV`), as root (`/usr/local`) and with `--user` (`~/.local`).
    public static func rolesPath(
        extra: [String], environment: [String: String], home: String, pipInstalled: Bool = false
    ) -> [String] {
        var paths = extra
        if let fromEnvironment = environment["ANSIBLE_ROLES_PATH"] {
            paths += fromEnvironment.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        paths += [
            (home as NSString).appendingPathComponent(".ansible/roles"), "/usr/share/ansible/tripleo-roles",
            "/usr/share/ansible/roles", "/etc/ansible/roles",
        ]
        if pipInstalled {
            if let venv = environment["VIRTUAL_ENV"], !venv.isEmpty {
                paths.append((venv as NSString).appendingPathComponent("share/ansible/roles"))
            }
            paths += ["/usr/local/share/ansible/roles", (home as NSString).appendingPathComponent(".local/share/ansible/roles")]
        }
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    /// Where `role` is: the first directory of `rolesPath` holding `role/tasks`, or a path
    /// given directly. Nil when none has it.
    public static func findRole(_ role: String, in rolesPath: [String]) -> String? {
        var isDirectory: ObjCBool = false
        if role.hasPrefix("/"), FileManager.default.fileExists(atPath: role + "/tasks", isDirectory: &isDirectory),
            isDirectory.boolValue
        {
            return role
        }
        for directory in rolesPath {
            let candidate = (directory as NSString).appendingPathComponent(role)
            if FileManager.default.fileExists(atPath: candidate + "/tasks", isDirectory: &isDirectory), isDirectory.boolValue {
                return candidate
            }
        }
        return nil
    }

    /// The one line for a role no directory has; for the upstream `tripleo-modify-image`
    /// (`--engine ansible`), how to install it.
    public static func roleNotFound(_ role: String, searched: [String]) -> String {
        let paths = searched.joined(separator: ", ")
        guard role == Planner.modifyRole else {
            return "ansible role '\(role)' not found (searched \(paths)): install it or give --roles-path DIR"
        }
        return "ansible role '\(role)' not found (searched \(paths)): --engine ansible runs the upstream role; "
            + "install it with pip install \(Planner.modifyRoleAlias)==\(upstreamRoleVersion) "
            + "(it goes to PREFIX/share/ansible/roles/\(role)) or give --roles-path DIR"
    }

    /// The release of the upstream role `--engine ansible` is tested with.
    public static let upstreamRoleVersion = "1.5.0"

    /// The one line for a host without ansible-playbook.
    public static let ansibleMissing =
        "ansible-playbook not found: a modify_role other than tripleo-modify-image runs through Ansible; install ansible-core (dnf install ansible-core, apt-get install ansible-core)"

    /// The failing task's name and message from `ansible-playbook` output (`TASK [name] ***`
    /// followed by `fatal: [...]: FAILED! => {... "msg": "..."}`), for the error line.
    public static func failure(inLog text: String) -> (task: String, message: String)? {
        var task = ""
        var found: (String, String)?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("TASK ["), let end = line.firstIndex(of: "]") {
                task = String(line[line.index(line.startIndex, offsetBy: 6)..<end])
            } else if line.hasPrefix("fatal:") || (line.hasPrefix("failed:")) {
                var message = String(line)
                if let arrow = line.range(of: "=> ") {
                    let json = line[arrow.upperBound...]
                    if let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] {
                        // One line: the message's first paragraph (Ansible follows it with the
                        // offending lines of the role) and the first and last lines of the
                        // command's error output (the command's own complaint, and the last
                        // word of what ran it); the log has the rest.
                        let msg = (object["msg"] as? String).map {
                            ($0.components(separatedBy: "\n\n").first ?? "").split(whereSeparator: \.isNewline).joined(separator: " ")
                        } ?? ""
                        let lines = ((object["stderr"] as? String) ?? "").split(whereSeparator: \.isNewline)
                            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                        let stderr = lines.count > 1 ? "\(lines[0]) … \(lines[lines.count - 1])" : lines.first ?? ""
                        message = [msg, stderr].filter { !$0.isEmpty }.joined(separator: ": ")
                    }
                }
                if found == nil { found = (task, message) }
            }
        }
        return found
    }
}
