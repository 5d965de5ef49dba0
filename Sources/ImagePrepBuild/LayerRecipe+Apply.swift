import Foundation
import ImagePrepArchive
import ImagePrepOCI

extension LayerRecipe {
    /// The recipe applied to a base image: the new layer's entries, sorted by path, and the
    /// image config with the recipe's settings (labels, env, user, working directory,
    /// entrypoint, command). The base config's other fields are kept as they are.
    public struct Applied: Sendable {
        public var entries: [ArchiveWriter.Entry]
        /// The whole image config, before its `rootfs` and `history` are extended.
        public var config: ImageDocument
    }

    /// A Dockerfile input that is missing or unusable (a hard error, whichever engine runs).
    public struct InputError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Applies the recipe. `context` is the build context (the `modify_dir_path` copy);
    /// every entry gets `mtime` unless `keepSourceMtimes`, which keeps the files' own.
    /// Throws ``Ineligible`` when the result would depend on the base image's files, and
    /// ``InputError`` for a missing or unsafe source.
    public func apply(toConfig baseConfig: ImageDocument, context: URL, mtime: Int, keepSourceMtimes: Bool = false) throws -> Applied {
        var image = baseConfig
        if FileManager.default.fileExists(atPath: context.appendingPathComponent(".dockerignore").path) {
            throw Ineligible(line: nil, reason: ".dockerignore needs buildah")
        }
        var workdir = image[setting: "WorkingDir"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        var labels = image.labels
        var env = image[setting: "Env"]?.strings ?? []
        var cmdSet = false
        var files: [String: ArchiveWriter.Entry] = [:]
        let shell = image[setting: "Shell"]?.strings ?? ["/bin/sh", "-c"]
        func command(_ command: Command) -> ImageDocument.Value {
            switch command {
            case .exec(let words): .strings(words)
            case .shell(let text): .strings(shell + [text])
            }
        }

        for step in steps {
            switch step {
            case .copy(let copy):
                let collector = CopyCollector(context: context, mtime: mtime, keepSourceMtimes: keepSourceMtimes, copy: copy)
                for entry in try collector.entries(workdir: workdir) { files[entry.path] = entry }
            case .labels(let pairs):
                for pair in pairs { labels[pair.key] = pair.value }
            case .env(let pairs):
                for pair in pairs {
                    let line = "\(pair.key)=\(pair.value)"
                    if let index = env.firstIndex(where: { $0.hasPrefix(pair.key + "=") }) { env[index] = line } else { env.append(line) }
                }
            case .user(let user):
                image[setting: "User"] = .string(user)
            case .workdir(let directory):
                workdir = Self.absolute(directory, in: workdir)
                image[setting: "WorkingDir"] = .string(workdir)
            case .entrypoint(let entrypoint):
                image[setting: "Entrypoint"] = command(entrypoint)
                // As docker and buildah do: an entrypoint drops the base's command.
                if !cmdSet { image[setting: "Cmd"] = nil }
            case .cmd(let cmd):
                image[setting: "Cmd"] = command(cmd)
                cmdSet = true
            }
        }
        // As buildah does, the image gets the default search path when it has none.
        if !env.contains(where: { $0.hasPrefix("PATH=") }) {
            env.insert(AppendedImage.defaultSearchPath, at: 0)
        }
        if !labels.isEmpty { image.labels = labels }
        if !env.isEmpty { image[setting: "Env"] = .strings(env) }
        return Applied(entries: files.values.sorted { $0.path < $1.path }, config: image)
    }

    /// `path` made absolute against `directory` and normalised; `..` stops at `/`.
    static func absolute(_ path: String, in directory: String) -> String {
        let joined = path.hasPrefix("/") ? path : directory + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") where part != "." && !part.isEmpty {
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }
}

/// The entries one COPY or ADD puts in the layer.
private struct CopyCollector {
    let context: URL
    let mtime: Int
    let keepSourceMtimes: Bool
    let copy: LayerRecipe.Copy

    func entries(workdir: String) throws -> [ArchiveWriter.Entry] {
        let keyword = copy.instruction.split(separator: " ").first.map(String.init) ?? "COPY"
        let destinationIsDirectory = copy.destination.hasSuffix("/") || copy.sources.count > 1
        let destination = LayerRecipe.absolute(copy.destination, in: workdir)
        var entries: [ArchiveWriter.Entry] = []
        for source in copy.sources {
            let relative = LayerRecipe.absolute(source, in: "/")
            let url = relative == "/" ? context : context.appendingPathComponent(String(relative.dropFirst()))
            guard let resolved = try resolveInContext(url) else {
                throw LayerRecipe.InputError(description: "line \(copy.line): \(keyword) source '\(source)' does not exist in \(context.path)")
            }
            let status = try FileStatus(resolved)
            if status.kind == .directory {
                // A directory's contents go into the destination, not the directory itself.
                try walk(resolved, into: destination, entries: &entries)
                continue
            }
            guard status.kind == .file else {
                throw LayerRecipe.InputError(description: "line \(copy.line): \(keyword) source '\(source)' is not a regular file or directory")
            }
            if keyword == "ADD", try Self.isArchive(resolved) {
                throw LayerRecipe.Ineligible(line: copy.line, reason: "ADD of an archive (unpacked into the image) needs buildah")
            }
            let name = resolved.lastPathComponent
            let target: String
            if destinationIsDirectory {
                target = destination == "/" ? "/" + name : destination + "/" + name
            } else if (destination as NSString).lastPathComponent == name {
                target = destination
            } else {
                // Whether the destination is a directory of the base image decides where the
                // file goes; only buildah can see the base's files.
                throw LayerRecipe.Ineligible(
                    line: copy.line,
                    reason: "\(keyword) \(source) \(copy.destination): end the destination with '/' or name the file as '\(name)' (a file copied to another name needs buildah)")
            }
            guard target != "/" else {
                throw LayerRecipe.InputError(description: "line \(copy.line): \(keyword) cannot replace '/' with a file")
            }
            entries.append(try entry(for: resolved, status: status, path: String(target.dropFirst())))
        }
        return entries
    }

    /// The source with symbolic links resolved, or nil when it is missing or leaves the context.
    private func resolveInContext(_ url: URL) throws -> URL? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let root = context.resolvingSymlinksInPath().path
        let resolved = url.resolvingSymlinksInPath()
        guard resolved.path == root || resolved.path.hasPrefix(root + "/") else {
            throw LayerRecipe.InputError(description: "line \(copy.line): '\(url.path)' leads outside the build context \(context.path)")
        }
        return resolved
    }

    private func walk(_ directory: URL, into destination: String, entries: inout [ArchiveWriter.Entry]) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        for name in names {
            let url = directory.appendingPathComponent(name)
            let target = destination == "/" ? name : String(destination.dropFirst()) + "/" + name
            let status = try FileStatus(url)
            switch status.kind {
            case .directory:
                entries.append(try entry(for: url, status: status, path: target))
                try walk(url, into: "/" + target, entries: &entries)
            case .file, .symlink:
                entries.append(try entry(for: url, status: status, path: target))
            case .other:
                throw LayerRecipe.InputError(description: "line \(copy.line): \(url.path) is not a regular file, directory or symbolic link")
            }
        }
    }

    private func entry(for url: URL, status: FileStatus, path: String) throws -> ArchiveWriter.Entry {
        let modified = keepSourceMtimes ? status.mtime : mtime
        let kind: ArchiveWriter.Entry.Kind
        var mode = copy.mode ?? status.permissions
        switch status.kind {
        case .directory:
            kind = .directory
        case .symlink:
            kind = .symlink(target: try FileManager.default.destinationOfSymbolicLink(atPath: url.path))
            mode = 0o777
        case .file, .other:
            kind = .file(source: url, size: status.size)
        }
        return ArchiveWriter.Entry(path: path, kind: kind, mode: mode, uid: 0, gid: 0, mtime: modified)
    }

    /// Whether `url` starts like a tar or a compressed file, which ADD would unpack.
    static func isArchive(_ url: URL) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return false }
        defer { try? handle.close() }
        let head = [UInt8](try handle.read(upToCount: 512) ?? Data())
        let magics: [[UInt8]] = [[0x1f, 0x8b], [0x42, 0x5a, 0x68], [0xfd, 0x37, 0x7a, 0x58, 0x5a], [0x28, 0xb5, 0x2f, 0xfd]]
        if magics.contains(where: { head.starts(with: $0) }) { return true }
        return head.count >= 262 && Array(head[257..<262]) == Array("ustar".utf8)
    }
}

/// What `lstat` says of a file (without the owner-name look-ups of FileManager's attributes).
private struct FileStatus {
    enum Kind { case file, directory, symlink, other }

    var kind: Kind
    var permissions: UInt32
    var size: Int64
    var mtime: Int

    init(_ url: URL) throws {
        var info = stat()
        guard lstat(url.path, &info) == 0 else {
            throw LayerRecipe.InputError(description: "cannot read \(url.path): \(String(cString: strerror(errno)))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        permissions = UInt32(info.st_mode & 0o7777)
        size = Int64(info.st_size)
        mtime = Int(info.st_mtim.tv_sec)
    }
}
