import Foundation

/// What a modification runs: a task of the built-in `tripleo-modify-image`, which imageprep
/// performs itself (or, with `--engine ansible`, the upstream role does with `vars`), or an
/// operator's own Ansible role, run with `ansible-playbook` as tripleo-common does
/// (`modify_vars` passed to it as they are).
public enum ModifyAction: Sendable, Equatable {
    case builtIn(ModifyTask, vars: [ConfigEntry])
    case role(String, vars: [ConfigEntry])

    /// The task file or the role, as reports name it.
    public var name: String {
        switch self {
        case .builtIn(let task, _): task.name
        case .role(let role, _): role
        }
    }
}

/// What `tripleo-modify-image` is asked to do (`modify_vars.tasks_from`),
/// with its variables checked.
public enum ModifyTask: Sendable, Equatable {
    /// `modify_image.yml`: the operator's Dockerfile in `modify_dir_path`.
    case modifyImage(directory: String)
    /// `rpm_install.yml`: install every `*.rpm` of `rpms_path`.
    case rpmInstall(rpmsPath: String)
    /// `yum_update.yml`.
    case yumUpdate(YumUpdate)
    /// `yum_install.yml`: install `yum_packages` from the configured repos.
    case yumInstall(packages: [String], reposDirectory: String?)
    /// `dev_install.yml`: local Python trees and project refspecs.
    case devInstall(pythonDirectories: [String], refspecs: [Refspec])

    public struct YumUpdate: Sendable, Equatable {
        /// Repo ids to update from (`update_repo`, comma-separated); empty
        /// means every configured repo.
        public var updateRepos: [String] = []
        public var reposDirectory: String?
        public var cacheDirectory: String?
        /// Install these RPMs as a local update instead of using repos.
        public var rpmsPath: String?
        public var compareHostPackages = false
        /// `force_purge_yum_cache`: empty `yum_cache` before the build.
        public var forcePurgeCache = false

        public init() {}
    }

    public struct Refspec: Sendable, Equatable {
        public var project: String
        public var refspec: String

        public init(project: String, refspec: String) {
            self.project = project
            self.refspec = refspec
        }
    }

    public static let taskNames = ["modify_image.yml", "rpm_install.yml", "yum_update.yml", "yum_install.yml", "dev_install.yml"]

    /// The `yum_cache` the task's build writes, as a standardized path (its one writer).
    public var cacheDirectory: String? {
        guard case .yumUpdate(let update) = self, let cache = update.cacheDirectory else { return nil }
        return URL(fileURLWithPath: cache).standardizedFileURL.path
    }

    /// The `tasks_from` name, as the role spells it.
    public var name: String {
        switch self {
        case .modifyImage: "modify_image.yml"
        case .rpmInstall: "rpm_install.yml"
        case .yumUpdate: "yum_update.yml"
        case .yumInstall: "yum_install.yml"
        case .devInstall: "dev_install.yml"
        }
    }

    /// Every variable the role reads from `modify_vars` (its defaults and tasks, with
    /// `compare_host_packages` of earlier releases), and those the playbook sets itself.
    public static let roleVariables: Set<String> = [
        "tasks_from", "modify_dir_path", "rpms_path", "update_repo", "yum_repos_dir_path", "yum_cache",
        "force_purge_yum_cache", "yum_packages", "python_dir", "refspecs", "compare_host_packages",
        "source_image", "target_image", "modified_append_tag", "container_build_tool",
    ]

    /// The `modify_vars` keys the role does not read, once each, in order: the role ignores
    /// them, and an operator's typo should not pass silently.
    public static func unknownVariables(_ vars: [ConfigEntry]) -> [String] {
        var seen = Set<String>()
        return vars.map(\.key).filter { !roleVariables.contains($0) && seen.insert($0).inserted }
    }

    /// Parses `modify_vars`; `key` names the entry (`ContainerImagePrepare[0]`).
    public static func parse(_ vars: [ConfigEntry], file: String, key: String) throws(PlanError) -> ModifyTask {
        let base = "\(key).modify_vars"
        func value(_ name: String) -> ConfigValue? {
            guard let v = vars.last(where: { $0.key == name })?.value, v != .null else { return nil }
            return v
        }
        func string(_ name: String, required: Bool) throws(PlanError) -> String? {
            guard let v = value(name) else {
                if required {
                    throw PlanError.invalidValue(file: file, key: "\(base).\(name)", expected: "a path", found: "nothing")
                }
                return nil
            }
            guard case .string(let s) = v, !s.isEmpty else {
                throw PlanError.invalidValue(file: file, key: "\(base).\(name)", expected: "a string", found: PrepareEntry.describe(v))
            }
            return try line(s, name, expected: "a path")
        }
        func list(_ name: String, expected: String = "a path") throws(PlanError) -> [String] {
            guard let v = value(name) else { return [] }
            let items: [String]
            if case .string(let s) = v { items = [s] } else { items = try Role.strings(v, file: file, key: "\(base).\(name)") }
            for item in items { _ = try line(item, name, expected: expected) }
            return items
        }
        // Every value reaches the build as one line of a file the hook reads, one argument
        // of the package manager, or a path: a line break (or another control character)
        // cannot be carried, so it is refused here, before anything is built.
        func line(_ text: String, _ name: String, expected: String) throws(PlanError) -> String {
            if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                throw PlanError.invalidValue(
                    file: file, key: "\(base).\(name)", expected: "\(expected) without line breaks or control characters",
                    found: "'\(text.debugDescription.dropFirst().dropLast())'")
            }
            return text
        }

        // The role's main.yml imports `tasks_from | default('modify_image.yml')`.
        guard let tasksValue = value("tasks_from") else {
            guard value("modify_dir_path") != nil else {
                throw PlanError.invalidValue(
                    file: file, key: "\(base).modify_dir_path", expected: "a path",
                    found: "nothing (without tasks_from the role runs modify_image.yml)")
            }
            return .modifyImage(directory: try string("modify_dir_path", required: true)!)
        }
        guard case .string(let tasks) = tasksValue else {
            throw PlanError.invalidValue(
                file: file, key: "\(base).tasks_from", expected: "one of \(taskNames.joined(separator: ", "))",
                found: PrepareEntry.describe(tasksValue))
        }
        switch tasks.hasSuffix(".yml") ? tasks : tasks + ".yml" {
        case "modify_image.yml":
            return .modifyImage(directory: try string("modify_dir_path", required: true)!)
        case "rpm_install.yml":
            return .rpmInstall(rpmsPath: try string("rpms_path", required: true)!)
        case "yum_update.yml":
            var update = YumUpdate()
            if let repos = value("update_repo") {
                guard let text = repos.scalarText else {
                    throw PlanError.invalidValue(
                        file: file, key: "\(base).update_repo", expected: "comma-separated repo ids", found: PrepareEntry.describe(repos))
                }
                update.updateRepos = text.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
                for repo in update.updateRepos { _ = try line(repo, "update_repo", expected: "comma-separated repo ids") }
            }
            update.reposDirectory = try string("yum_repos_dir_path", required: false)
            update.cacheDirectory = try string("yum_cache", required: false)
            if let cache = update.cacheDirectory, cache.contains(":") {
                // buildah's --volume HOST:CONTAINER[:OPTIONS] has no way to quote a colon.
                throw PlanError.invalidValue(
                    file: file, key: "\(base).yum_cache", expected: "a directory path without ':' (it is mounted with buildah --volume PATH:/var/cache/dnf)",
                    found: "'\(cache)'")
            }
            update.rpmsPath = try string("rpms_path", required: false)
            if let compare = value("compare_host_packages") {
                guard case .bool(let b) = compare else {
                    throw PlanError.invalidValue(
                        file: file, key: "\(base).compare_host_packages", expected: "true or false", found: PrepareEntry.describe(compare))
                }
                update.compareHostPackages = b
            }
            if let purge = value("force_purge_yum_cache") {
                // The role reads it through Ansible's `bool` filter.
                switch purge {
                case .bool(let b): update.forcePurgeCache = b
                case .number(let n) where n == "1" || n == "0": update.forcePurgeCache = n == "1"
                case .string(let text) where ["yes", "on", "1", "true", "y"].contains(text.lowercased()): update.forcePurgeCache = true
                case .string(let text) where ["no", "off", "0", "false", "n", ""].contains(text.lowercased()): update.forcePurgeCache = false
                default:
                    throw PlanError.invalidValue(
                        file: file, key: "\(base).force_purge_yum_cache", expected: "true or false", found: PrepareEntry.describe(purge))
                }
            }
            return .yumUpdate(update)
        case "yum_install.yml":
            let packages = try list("yum_packages", expected: "package names")
            guard !packages.isEmpty else {
                throw PlanError.invalidValue(file: file, key: "\(base).yum_packages", expected: "a list of package names", found: "nothing")
            }
            if let option = packages.first(where: { $0.isEmpty || $0.hasPrefix("-") }) {
                throw PlanError.invalidValue(
                    file: file, key: "\(base).yum_packages", expected: "package names (not empty, not starting with '-')",
                    found: "'\(option)'")
            }
            return .yumInstall(packages: packages, reposDirectory: try string("yum_repos_dir_path", required: false))
        case "dev_install.yml":
            let directories = try list("python_dir")
            var refspecs: [Refspec] = []
            if let v = value("refspecs") {
                guard case .list(let items) = v else {
                    throw PlanError.invalidValue(
                        file: file, key: "\(base).refspecs", expected: "a list of {project, refspec}", found: PrepareEntry.describe(v))
                }
                for (index, item) in items.enumerated() {
                    guard case .string(let project)? = item["project"], case .string(let refspec)? = item["refspec"] else {
                        throw PlanError.invalidValue(
                            file: file, key: "\(base).refspecs[\(index)]", expected: "a mapping with project and refspec",
                            found: PrepareEntry.describe(item))
                    }
                    refspecs.append(
                        Refspec(project: try line(project, "refspecs", expected: "a project name"), refspec: try line(refspec, "refspecs", expected: "a refspec")))
                }
            }
            guard !directories.isEmpty || !refspecs.isEmpty else {
                throw PlanError.invalidValue(
                    file: file, key: "\(base)", expected: "python_dir or refspecs for dev_install.yml", found: "neither")
            }
            return .devInstall(pythonDirectories: directories, refspecs: refspecs)
        default:
            throw PlanError.invalidValue(
                file: file, key: "\(base).tasks_from", expected: "one of \(taskNames.joined(separator: ", "))", found: "'\(tasks)'")
        }
    }
}
