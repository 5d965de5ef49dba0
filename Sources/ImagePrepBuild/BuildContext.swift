import Foundation
import ImagePrepArchive
import ImagePrepPlan

/// A build directory holding `Dockerfile.modified` and every input the task
/// copies into the image.
public struct BuildContext: Sendable {
    public var directory: URL
    public var dockerfile: URL { directory.appendingPathComponent("Dockerfile.modified") }
    /// Host directories to mount during the build (`yum_cache`).
    public var volumes: [String] = []

    /// Writes the context of `task` for `sourceImage` into `directory`.
    public static func write(
        task: ModifyTask, sourceImage: String, appendTag: String, originalUser: String, into directory: URL,
        updatePackages: [String]? = nil
    ) throws -> BuildContext {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var context = BuildContext(directory: directory)
        // The values below are the only ones written into Dockerfile.modified; the task's
        // variables (package names, repo ids) reach the hook as files of lines, never
        // through a shell. The user comes from the image's config: a Dockerfile line must
        // stay one instruction.
        guard originalUser.isEmpty || isUserName(originalUser) else {
            throw ContextError(
                "the image's configured user '\(originalUser.debugDescription.dropFirst().dropLast())' is not a user[:group] name (letters, digits, '_', '.', '-', '@')")
        }
        let variables: TemplateContext = [
            "source_image": .string(sourceImage),
            "modified_append_tag": .string(appendTag),
            "original_user": .string(originalUser.isEmpty ? "root" : originalUser),
        ]
        let template: String
        switch task {
        case .modifyImage(let path):
            try context.copyModifyDirectory(path, sourceImage: sourceImage, appendTag: appendTag)
            return context
        case .rpmInstall(let path):
            try context.stageRPMs(from: path, into: directory.appendingPathComponent("rpms"))
            template = "rpm_install"
        case .yumUpdate(let update):
            try context.stageYumUpdate(update, updatePackages: updatePackages)
            template = "yum_update"
        case .yumInstall(let packages, let repos):
            try context.stageYumInstall(packages, repos: repos)
            template = "yum_install"
        case .devInstall(let directories, let refspecs):
            try context.stageDevInstall(directories, refspecs: refspecs)
            template = "dev_install"
        }
        try context.writeHookAndDockerfile(template: template, variables: variables)
        return context
    }

    /// `modify_image`: the operator's directory is the context, its Dockerfile rewritten.
    private func copyModifyDirectory(_ path: String, sourceImage: String, appendTag: String) throws {
        let files = FileManager.default
        let source = URL(fileURLWithPath: path)
        let dockerfile = source.appendingPathComponent("Dockerfile")
        guard files.fileExists(atPath: dockerfile.path) else {
            throw ContextError("modify_dir_path \(path) has no Dockerfile")
        }
        try files.removeItem(at: directory)
        try files.copyItem(at: source, to: directory)
        let text = try String(contentsOf: dockerfile, encoding: .utf8)
        do {
            let modified = try DockerfileRewriter.modified(text, sourceImage: sourceImage, appendTag: appendTag)
            try modified.write(to: self.dockerfile, atomically: true, encoding: .utf8)
        } catch is DockerfileRewriter.Failure {
            throw ContextError("\(dockerfile.path) has no FROM line")
        }
    }

    /// The RPMs of `path` (each read first), copied into `target`.
    private func stageRPMs(from path: String, into target: URL) throws {
        let rpms = try Self.rpmFiles(in: path)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        for rpm in rpms { try FileManager.default.copyItem(at: rpm, to: target.appendingPathComponent(rpm.lastPathComponent)) }
    }

    /// `yum_update`'s inputs: the repos' volumes, the RPMs to update from, the host-package
    /// gate, the cache and the repos to update from.
    private mutating func stageYumUpdate(_ update: ModifyTask.YumUpdate, updatePackages: [String]?) throws {
        let inputs = directory.appendingPathComponent("inputs")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        if let repos = update.reposDirectory {
            // The role lists file:// repos only when it updates from repos.
            volumes += try RepoEnvironment.volumes(
                reposDirectory: repos, localRepos: update.rpmsPath == nil, hostCertificates: true)
        }
        if let rpmsPath = update.rpmsPath {
            try stageRPMs(from: rpmsPath, into: inputs.appendingPathComponent("rpms"))
        }
        if update.compareHostPackages {
            // A gate, as the role's compare_host_packages was: when no package the image
            // shares with the host differs from the host's, nothing is updated; otherwise
            // the update runs as it would without it.
            guard let updatePackages else { throw ContextError("compare_host_packages: the packages to update were not worked out") }
            if updatePackages.isEmpty { try Self.writeLines([], to: inputs.appendingPathComponent("host-match")) }
        }
        if let cache = update.cacheDirectory {
            try RepoEnvironment.prepareCache(cache, purge: update.forcePurgeCache)
            // SELinux-relabelled (`z`) as the role mounts a cache it populates.
            volumes.append("\(cache):/var/cache/dnf:rw,z")
            // The mounted cache is the operator's: the hook keeps packages there and does
            // not empty it (and the mount is not part of the image).
            try Self.writeLines([], to: inputs.appendingPathComponent("keep-cache"))
        }
        if !update.updateRepos.isEmpty { try Self.writeLines(update.updateRepos, to: inputs.appendingPathComponent("update-repos")) }
    }

    /// `yum_install`'s inputs: the repos' volumes and the packages, one per line.
    private mutating func stageYumInstall(_ packages: [String], repos: String?) throws {
        let inputs = directory.appendingPathComponent("inputs")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        if let repos {
            volumes += try RepoEnvironment.volumes(reposDirectory: repos, localRepos: true, hostCertificates: false)
        }
        try Self.writeLines(packages, to: inputs.appendingPathComponent("yum-packages"))
    }

    /// `dev_install`'s inputs: each python_dir's tree (refspecs need a git server).
    private func stageDevInstall(_ directories: [String], refspecs: [ModifyTask.Refspec]) throws {
        if let first = refspecs.first {
            throw ContextError(
                "dev_install refspecs (\(first.project) \(first.refspec)) need the project's git server, which this machine cannot reach: check the change out and give its tree in python_dir")
        }
        let inputs = directory.appendingPathComponent("inputs/python")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        for path in directories {
            try Self.copyDirectory(path, to: inputs.appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent), what: "python_dir")
        }
    }

    /// The task's hook and its template rendered as Dockerfile.modified.
    private func writeHookAndDockerfile(template: String, variables: TemplateContext) throws {
        let files = FileManager.default
        let data = try ProjectFiles.dataDirectory()
        let hooks = directory.appendingPathComponent("hooks")
        try files.createDirectory(at: hooks, withIntermediateDirectories: true)
        let hook = "\(template).sh"
        try files.copyItem(at: data.appendingPathComponent("hooks/\(hook)"), to: hooks.appendingPathComponent(hook))
        let templatePath = data.appendingPathComponent("dockerfiles/\(template).Dockerfile.j2").path
        let rendered = try Template(source: try String(contentsOfFile: templatePath, encoding: .utf8), file: templatePath)
            .render(variables) { _ in nil }
        try (rendered + "\n").write(to: dockerfile, atomically: true, encoding: .utf8)
    }

    /// A file that is no RPM would reach rpm inside the image and fail there
    /// obscurely: `RPMDirectory` reads every header first.
    static func rpmFiles(in path: String) throws -> [URL] {
        do {
            return try RPMDirectory(path: path).files.map { URL(fileURLWithPath: $0) }
        } catch {
            throw ContextError("\(error)")
        }
    }

    private static func copyDirectory(_ path: String, to target: URL, what: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ContextError("\(what) \(path) is not a directory")
        }
        try FileManager.default.copyItem(at: URL(fileURLWithPath: path), to: target)
    }

    /// Values the hooks read one per line (`while IFS= read -r`): each reaches the package
    /// manager as one argument, whatever characters it holds (the plan refused line breaks).
    static func writeLines(_ lines: [String], to file: URL) throws {
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: file, options: .atomic)
    }

    /// `user`, `uid`, `user:group` or `uid:gid`, as a `USER` line takes them unquoted.
    static func isUserName(_ user: String) -> Bool {
        let parts = user.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count <= 2 && parts.allSatisfy { part in
            !part.isEmpty && part.first != "-"
                && part.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.-@".unicodeScalars.contains($0)) }
        }
    }
}

/// An input of a task that is missing or unusable.
public struct ContextError: Error, Sendable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

