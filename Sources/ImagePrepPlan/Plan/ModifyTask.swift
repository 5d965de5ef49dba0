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
}
