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
        let files = FileManager.default
        try files.createDirectory(at: directory, withIntermediateDirectories: true)
        var context = BuildContext(directory: directory)
        var variables: TemplateContext = [
            "source_image": .string(sourceImage),
            "modified_append_tag": .string(appendTag),
            "original_user": .string(originalUser.isEmpty ? "root" : originalUser),
        ]
        let template: String
        switch task {
        case .modifyImage(let path):
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
                try modified.write(to: context.dockerfile, atomically: true, encoding: .utf8)
            } catch is DockerfileRewriter.Failure {
                throw ContextError("\(dockerfile.path) has no FROM line")
            }
            return context
        case .rpmInstall(let path):
            let rpms = try rpmFiles(in: path)
            let target = directory.appendingPathComponent("rpms")
            try files.createDirectory(at: target, withIntermediateDirectories: true)
            for rpm in rpms { try files.copyItem(at: rpm, to: target.appendingPathComponent(rpm.lastPathComponent)) }
            template = "rpm_install"
        case .yumUpdate(let update):
            let inputs = directory.appendingPathComponent("inputs")
            try files.createDirectory(at: inputs, withIntermediateDirectories: true)
            if let repos = update.reposDirectory { try copyDirectory(repos, to: inputs.appendingPathComponent("yum.repos.d"), what: "yum_repos_dir_path") }
            if let rpmsPath = update.rpmsPath {
                let target = inputs.appendingPathComponent("rpms")
                try files.createDirectory(at: target, withIntermediateDirectories: true)
                for rpm in try rpmFiles(in: rpmsPath) { try files.copyItem(at: rpm, to: target.appendingPathComponent(rpm.lastPathComponent)) }
            }
            if update.compareHostPackages {
                guard let updatePackages else { throw ContextError("compare_host_packages: the packages to update were not worked out") }
                try updatePackages.map { $0 + "\n" }.joined()
                    .write(to: inputs.appendingPathComponent("update-packages"), atomically: true, encoding: .utf8)
            }
            if let cache = update.cacheDirectory { context.volumes.append("\(cache):/var/cache/dnf") }
            variables["update_repo"] = .string(update.updateRepos.joined(separator: ","))
            // The mounted cache is the operator's: the hook keeps packages there and does not
            // empty it (and the mount is not part of the image).
            variables["keep_cache"] = .string(update.cacheDirectory == nil ? "" : "1")
            template = "yum_update"
        case .yumInstall(let packages, let repos):
            let inputs = directory.appendingPathComponent("inputs")
            try files.createDirectory(at: inputs, withIntermediateDirectories: true)
            if let repos { try copyDirectory(repos, to: inputs.appendingPathComponent("yum.repos.d"), what: "yum_repos_dir_path") }
            variables["yum_packages"] = .string(packages.map(shellQuoted).joined(separator: " "))
            template = "yum_install"
        case .devInstall(let directories, let refspecs):
            if let first = refspecs.first {
                throw ContextError(
                    "dev_install refspecs (\(first.project) \(first.refspec)) need the project's git server, which this machine cannot reach: check the change out and give its tree in python_dir")
            }
            let inputs = directory.appendingPathComponent("inputs/python")
            try files.createDirectory(at: inputs, withIntermediateDirectories: true)
            for path in directories {
                try copyDirectory(path, to: inputs.appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent), what: "python_dir")
            }
            template = "dev_install"
        }
        let data = try ProjectFiles.dataDirectory()
        let hooks = directory.appendingPathComponent("hooks")
        try files.createDirectory(at: hooks, withIntermediateDirectories: true)
        let hook = "\(template).sh"
        try files.copyItem(at: data.appendingPathComponent("hooks/\(hook)"), to: hooks.appendingPathComponent(hook))
        let templatePath = data.appendingPathComponent("dockerfiles/\(template).Dockerfile.j2").path
        let rendered = try Template(source: try String(contentsOfFile: templatePath, encoding: .utf8), file: templatePath)
            .render(variables) { _ in nil }
        try (rendered + "\n").write(to: context.dockerfile, atomically: true, encoding: .utf8)
        return context
    }

    static func rpmFiles(in path: String) throws -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ContextError("rpms_path \(path) is not a directory")
        }
        let rpms = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".rpm") }.sorted()
        guard !rpms.isEmpty else { throw ContextError("rpms_path \(path) has no *.rpm files") }
        let urls = rpms.map { URL(fileURLWithPath: path).appendingPathComponent($0) }
        // A file that is no RPM would reach rpm inside the image and fail
        // there obscurely: check every header first.
        for url in urls {
            do {
                _ = try RPMPackage.read(path: url.path)
            } catch {
                throw ContextError("\(error)")
            }
        }
        return urls
    }

    private static func copyDirectory(_ path: String, to target: URL, what: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ContextError("\(what) \(path) is not a directory")
        }
        try FileManager.default.copyItem(at: URL(fileURLWithPath: path), to: target)
    }

    private static func shellQuoted(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// An input of a task that is missing or unusable.
public struct ContextError: Error, Sendable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

