import Foundation

extension ModifyTask {
    /// Parses `modify_vars`; `key` names the entry (`ContainerImagePrepare[0]`).
    public static func parse(_ vars: [ConfigEntry], file: String, key: String) throws(PlanError) -> ModifyTask {
        let reader = ModifyVariables(vars: vars, file: file, base: "\(key).modify_vars")
        // The role's main.yml imports `tasks_from | default('modify_image.yml')`.
        guard let tasksValue = reader.value("tasks_from") else {
            guard reader.value("modify_dir_path") != nil else {
                throw reader.invalid(
                    "modify_dir_path", expected: "a path", found: "nothing (without tasks_from the role runs modify_image.yml)")
            }
            return .modifyImage(directory: try reader.requiredString("modify_dir_path"))
        }
        guard case .string(let tasks) = tasksValue else {
            throw reader.invalid(
                "tasks_from", expected: "one of \(taskNames.joined(separator: ", "))", found: PrepareEntry.describe(tasksValue))
        }
        switch tasks.hasSuffix(".yml") ? tasks : tasks + ".yml" {
        case "modify_image.yml":
            return .modifyImage(directory: try reader.requiredString("modify_dir_path"))
        case "rpm_install.yml":
            return .rpmInstall(rpmsPath: try reader.requiredString("rpms_path"))
        case "yum_update.yml":
            return .yumUpdate(try YumUpdate(reader))
        case "yum_install.yml":
            return try yumInstall(reader)
        case "dev_install.yml":
            return try devInstall(reader)
        default:
            throw reader.invalid("tasks_from", expected: "one of \(taskNames.joined(separator: ", "))", found: "'\(tasks)'")
        }
    }

    private static func yumInstall(_ reader: ModifyVariables) throws(PlanError) -> ModifyTask {
        let packages = try reader.list("yum_packages", expected: "package names")
        guard !packages.isEmpty else {
            throw reader.invalid("yum_packages", expected: "a list of package names", found: "nothing")
        }
        if let option = packages.first(where: { $0.isEmpty || $0.hasPrefix("-") }) {
            throw reader.invalid("yum_packages", expected: "package names (not empty, not starting with '-')", found: "'\(option)'")
        }
        return .yumInstall(packages: packages, reposDirectory: try reader.string("yum_repos_dir_path"))
    }

    private static func devInstall(_ reader: ModifyVariables) throws(PlanError) -> ModifyTask {
        let directories = try reader.list("python_dir")
        var refspecs: [Refspec] = []
        if let v = reader.value("refspecs") {
            guard case .list(let items) = v else {
                throw reader.invalid("refspecs", expected: "a list of {project, refspec}", found: PrepareEntry.describe(v))
            }
            for (index, item) in items.enumerated() {
                guard case .string(let project)? = item["project"], case .string(let refspec)? = item["refspec"] else {
                    throw reader.invalid(
                        "refspecs[\(index)]", expected: "a mapping with project and refspec", found: PrepareEntry.describe(item))
                }
                refspecs.append(Refspec(
                    project: try reader.line(project, "refspecs", expected: "a project name"),
                    refspec: try reader.line(refspec, "refspecs", expected: "a refspec")))
            }
        }
        guard !directories.isEmpty || !refspecs.isEmpty else {
            throw PlanError.invalidValue(
                file: reader.file, key: reader.base, expected: "python_dir or refspecs for dev_install.yml", found: "neither")
        }
        return .devInstall(pythonDirectories: directories, refspecs: refspecs)
    }
}

extension ModifyTask.YumUpdate {
    /// `yum_update.yml`'s variables.
    fileprivate init(_ reader: ModifyVariables) throws(PlanError) {
        if let repos = reader.value("update_repo") {
            guard let text = repos.scalarText else {
                throw reader.invalid("update_repo", expected: "comma-separated repo ids", found: PrepareEntry.describe(repos))
            }
            updateRepos = text.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
            for repo in updateRepos { _ = try reader.line(repo, "update_repo", expected: "comma-separated repo ids") }
        }
        reposDirectory = try reader.string("yum_repos_dir_path")
        cacheDirectory = try reader.string("yum_cache")
        if let cache = cacheDirectory, cache.contains(":") {
            // buildah's --volume HOST:CONTAINER[:OPTIONS] has no way to quote a colon.
            throw reader.invalid(
                "yum_cache", expected: "a directory path without ':' (it is mounted with buildah --volume PATH:/var/cache/dnf)",
                found: "'\(cache)'")
        }
        rpmsPath = try reader.string("rpms_path")
        if let compare = reader.value("compare_host_packages") {
            guard case .bool(let b) = compare else {
                throw reader.invalid("compare_host_packages", expected: "true or false", found: PrepareEntry.describe(compare))
            }
            compareHostPackages = b
        }
        if let purge = reader.value("force_purge_yum_cache") {
            // The role reads it through Ansible's `bool` filter.
            switch purge {
            case .bool(let b): forcePurgeCache = b
            case .number(let n) where n == "1" || n == "0": forcePurgeCache = n == "1"
            case .string(let text) where ["yes", "on", "1", "true", "y"].contains(text.lowercased()): forcePurgeCache = true
            case .string(let text) where ["no", "off", "0", "false", "n", ""].contains(text.lowercased()): forcePurgeCache = false
            default:
                throw reader.invalid("force_purge_yum_cache", expected: "true or false", found: PrepareEntry.describe(purge))
            }
        }
    }
}

/// One entry's `modify_vars`, read with errors naming the file and `base.NAME`.
private struct ModifyVariables {
    var vars: [ConfigEntry]
    var file: String
    /// `ContainerImagePrepare[0].modify_vars`.
    var base: String

    /// The last value given for `name`; nil when missing or null.
    func value(_ name: String) -> ConfigValue? {
        guard let v = vars.last(where: { $0.key == name })?.value, v != .null else { return nil }
        return v
    }

    func invalid(_ name: String, expected: String, found: String) -> PlanError {
        PlanError.invalidValue(file: file, key: "\(base).\(name)", expected: expected, found: found)
    }

    /// A non-empty one-line string, or nil when not given.
    func string(_ name: String) throws(PlanError) -> String? {
        guard let v = value(name) else { return nil }
        guard case .string(let s) = v, !s.isEmpty else {
            throw invalid(name, expected: "a string", found: PrepareEntry.describe(v))
        }
        return try line(s, name, expected: "a path")
    }

    func requiredString(_ name: String) throws(PlanError) -> String {
        guard let s = try string(name) else { throw invalid(name, expected: "a path", found: "nothing") }
        return s
    }

    /// A string or a list of strings, each one line.
    func list(_ name: String, expected: String = "a path") throws(PlanError) -> [String] {
        guard let v = value(name) else { return [] }
        let items: [String]
        if case .string(let s) = v { items = [s] } else { items = try Role.strings(v, file: file, key: "\(base).\(name)") }
        for item in items { _ = try line(item, name, expected: expected) }
        return items
    }

    /// Every value reaches the build as one line of a file the hook reads, one argument of
    /// the package manager, or a path: a line break (or another control character) cannot be
    /// carried, so it is refused here, before anything is built.
    func line(_ text: String, _ name: String, expected: String) throws(PlanError) -> String {
        if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw invalid(
                name, expected: "\(expected) without line breaks or control characters",
                found: "'\(text.debugDescription.dropFirst().dropLast())'")
        }
        return text
    }
}
