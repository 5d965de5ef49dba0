import Foundation

/// The host's package-repository environment, mounted for a yum task's build as
/// tripleo-modify-image mounts it: `yum_repos_dir_path` over `/etc/yum.repos.d`, every local
/// (`baseurl=file://`) repository its files name at the same path, the package managers'
/// variables (`/etc/dnf/vars`, `/etc/yum/vars`) and, for updates, `/etc/pki` (the host's
/// repository keys and certificates). All read-only: the build cannot change the host's
/// configuration. None of it is part of the image.
enum RepoEnvironment {
    /// buildah `--volume` arguments for `reposDirectory`. `localRepos`: also the `file://`
    /// repositories (the role lists them unless it installs local RPMs); `hostCertificates`:
    /// also `/etc/pki` (yum_update mounts it, yum_install does not).
    static func volumes(
        reposDirectory: String, localRepos: Bool, hostCertificates: Bool, hostRoot: String = ""
    ) throws -> [String] {
        let files = FileManager.default
        var isDirectory: ObjCBool = false
        guard files.fileExists(atPath: reposDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ContextError("yum_repos_dir_path \(reposDirectory) is not a directory")
        }
        try mountable(reposDirectory, what: "yum_repos_dir_path")
        var volumes = ["\(reposDirectory):/etc/yum.repos.d:ro"]
        for path in ["/etc/dnf/vars", "/etc/yum/vars"] + (hostCertificates ? ["/etc/pki"] : [])
        where directoryExists(hostRoot + path) {
            volumes.append("\(hostRoot + path):\(path):ro")
        }
        if localRepos {
            var seen = Set<String>()
            for (file, path) in try localRepositories(in: reposDirectory) where seen.insert(path).inserted {
                // As the role's `repo is exists`: a repository that is not there is left to
                // the package manager to report (or skip, when it is not enabled).
                guard directoryExists(path) else { continue }
                try mountable(path, what: "\(file): baseurl=file://\(path)")
                volumes.append("\(path):\(path):ro")
            }
        }
        return volumes
    }

    /// The `baseurl=file://PATH` directories of the `*.repo` files in `directory`, with the
    /// file that names each (as the role's `sed -n 's|baseurl=file://||p' *.repo`; a
    /// baseurl may list several URLs).
    static func localRepositories(in directory: String) throws -> [(file: String, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var found: [(file: String, path: String)] = []
        for name in names.sorted() where name.hasSuffix(".repo") {
            let file = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard let equals = trimmed.firstIndex(of: "="),
                    trimmed[..<equals].trimmingCharacters(in: .whitespaces).lowercased() == "baseurl"
                else { continue }
                let urls = trimmed[trimmed.index(after: equals)...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
                for url in urls where url.hasPrefix("file://") {
                    var path = String(url.dropFirst("file://".count))
                    while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
                    if path.hasPrefix("/") { found.append((file, path)) }
                }
            }
        }
        return found
    }

    /// The operator's `yum_cache`: created when missing (mode 0755, as the role does); with
    /// `force_purge_yum_cache`, emptied first.
    static func prepareCache(_ path: String, purge: Bool) throws {
        let files = FileManager.default
        try mountable(path, what: "yum_cache")
        if purge, directoryExists(path) {
            for name in (try? files.contentsOfDirectory(atPath: path)) ?? [] {
                do {
                    try files.removeItem(atPath: (path as NSString).appendingPathComponent(name))
                } catch {
                    throw ContextError("force_purge_yum_cache: cannot empty yum_cache \(path) (\(name))")
                }
            }
        }
        if !directoryExists(path) {
            do {
                try files.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            } catch {
                throw ContextError("yum_cache \(path) cannot be created")
            }
        }
    }

    private static func directoryExists(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// buildah's `--volume HOST:CONTAINER[:OPTIONS]` cannot quote a colon or a comma.
    private static func mountable(_ path: String, what: String) throws {
        if path.contains(":") || path.contains(",") {
            throw ContextError("\(what): \(path) cannot be mounted for the build (a path with ':' or ',')")
        }
    }
}
