import Foundation
import ImagePrepArchive

/// `rpm_install` without buildah: the layer rpm would leave behind, made without running
/// anything in the image. Allowed when no hotfix RPM carries a scriptlet or trigger (nothing
/// would have to run in the image) and nothing about its files depends on the image's own files
/// (owners other than root, `%config`, `%lang`, capabilities, hard links). The layer holds
/// the RPMs' payloads (read with libarchive; types, modes, owners and times from the headers),
/// the image's rpm database updated by the host's `rpm --justdb`, and whiteouts for the files
/// the replaced versions had and no package owns any more.
public struct RPMInstallLayer: Sendable {
    /// Why an rpm_install needs buildah (names the RPM and what would have to run).
    public struct NeedsBuildah: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String

        init(_ description: String) {
            self.description = description
        }

        /// No layer holds an rpm database for the host's rpm to update.
        public static let noDatabase = NeedsBuildah("no layer holds an rpm database (/var/lib/rpm or /usr/lib/sysimage/rpm)")
    }

    /// A hotfix RPM is unusable, or the host's rpm refused the installation.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The image's rpm database, extracted to `root` + `path`.
    public struct Database: Sendable {
        /// A scratch root holding only the database.
        public var root: URL
        /// Relative to the image root (`var/lib/rpm`).
        public var path: String
        /// As ``PackageInventory`` names it: `sqlite`, `bdb_ro` (Berkeley DB) or `ndb`.
        public var backend: String

        public init(root: URL, path: String, backend: String) {
            self.root = root
            self.path = path
            self.backend = backend
        }
    }

    /// What the layer holds.
    public struct Contents: Sendable {
        /// Sorted by path.
        public var entries: [ArchiveWriter.Entry]
        /// The installed packages (`name-[epoch:]version-release.arch`).
        public var installed: [String]
        /// Files of the replaced versions that no package owns any more (whited out).
        public var removed: [String]
    }

    public var rpms: [URL]
    public var headers: [RPMInstallHeader]

    /// Reads every `*.rpm` of `rpmsPath`; throws ``NeedsBuildah`` naming the first RPM that
    /// needs rpm to run in the image.
    public static func check(rpmsPath: String) throws -> RPMInstallLayer {
        let rpms = try BuildContext.rpmFiles(in: rpmsPath)
        var headers: [RPMInstallHeader] = []
        for rpm in rpms {
            let header = try RPMInstallHeader.read(path: rpm.path)
            let name = rpm.lastPathComponent
            if !header.scriptlets.isEmpty {
                let list = header.scriptlets.joined(separator: ", ")
                throw NeedsBuildah("\(name) has \(header.scriptlets.count == 1 ? "a \(list) scriptlet" : "the scriptlets \(list)"), which only rpm in the image can run")
            }
            if let linked = header.hardLinked.first {
                throw NeedsBuildah("\(name): \(linked) is hard-linked")
            }
            for file in header.files where !file.isGhost {
                if file.user != "root" || file.group != "root" {
                    throw NeedsBuildah("\(name): \(file.path) belongs to \(file.user):\(file.group) (only the image's /etc/passwd knows the ids)")
                }
                if file.isConfig {
                    throw NeedsBuildah("\(name): \(file.path) is a %config file (rpm keeps or replaces it after comparing the image's copy)")
                }
                if !file.language.isEmpty {
                    throw NeedsBuildah("\(name): \(file.path) is %lang(\(file.language)) (the image's %_install_langs decides)")
                }
                if !file.capabilities.isEmpty {
                    throw NeedsBuildah("\(name): \(file.path) has file capabilities")
                }
                if !(file.isRegular || file.isDirectory || file.isSymlink) {
                    throw NeedsBuildah("\(name): \(file.path) is a device or FIFO")
                }
            }
            headers.append(header)
        }
        return RPMInstallLayer(rpms: rpms, headers: headers)
    }

    /// The hotfix RPMs' names and versions, for the image's history.
    public var description: String {
        "rpm -U --justdb " + headers.map(\.package.nevra).joined(separator: " ")
    }

    /// Installs the RPMs into `database` with the host's rpm and collects the layer's entries;
    /// payload files are written under `scratch`. Every entry gets the header's modification
    /// time, the database files get `mtime`.
    public func contents(database: Database, scratch: URL, mtime: Int) async throws -> Contents {
        guard database.backend == "sqlite" else {
            let kind = database.backend == "ndb" ? "ndb" : "Berkeley DB"
            throw NeedsBuildah("the image's rpm database (/\(database.path)) is \(kind), which the host's rpm cannot write")
        }
        try await checkInstalled(database)
        let directory = database.root.appendingPathComponent(database.path)
        let databaseFilesBefore = Set(try FileManager.default.contentsOfDirectory(atPath: directory.path))
        let before = try await owners(database)
        do {
            _ = try await CommandRunner.capture("rpm", rpmArguments(database) + [
                "-U", "--justdb", "--noscripts", "--notriggers", "--ignoresize", "--replacepkgs", "--replacefiles", "--oldpackage",
            ] + rpms.map(\.path), name: "rpm -U --justdb")
        } catch let failure as CommandRunner.Failure {
            throw Failure(description: "rpm refused the hotfix RPMs for this image: "
                + Self.meaningful(failure.output))
        }
        let after = try await owners(database)

        var entries: [String: ArchiveWriter.Entry] = [:]
        let payload = scratch.appendingPathComponent("payload")
        try FileManager.default.createDirectory(at: payload, withIntermediateDirectories: true)
        var counter = 0
        for (rpm, header) in zip(rpms, headers) {
            for entry in try payloadEntries(rpm, header: header, into: payload, counter: &counter) {
                entries[entry.path] = entry
            }
        }

        // The replaced versions' files that no package owns now: rpm removed them. Emptied
        // directories are left in place (whether other files keep them is the image's business).
        let replaced = Set(headers.map(\.package.name))
        let owned = Set(after.keys)
        let removed = before.filter { path, owner in
            replaced.contains(owner.package) && !owner.isDirectory && !owned.contains(path)
        }.keys.sorted()
        let empty = scratch.appendingPathComponent("whiteout")
        _ = FileManager.default.createFile(atPath: empty.path, contents: nil)
        func whiteout(_ path: String) -> ArchiveWriter.Entry? {
            guard let relative = LayerExtractor.normalize(path), !relative.isEmpty else { return nil }
            let slash = relative.lastIndex(of: "/")
            let name = slash.map { String(relative[relative.index(after: $0)...]) } ?? relative
            let parent = slash.map { String(relative[..<$0]) + "/" } ?? ""
            return ArchiveWriter.Entry(path: parent + ".wh." + name, kind: .file(source: empty, size: 0), mode: 0o644, mtime: mtime)
        }
        for path in removed { if let entry = whiteout(path) { entries[entry.path] = entry } }

        // The updated database, file by file.
        let databaseFilesAfter = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        for name in databaseFilesAfter {
            let url = directory.appendingPathComponent(name)
            var info = stat()
            guard lstat(url.path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            entries[database.path + "/" + name] = ArchiveWriter.Entry(
                path: database.path + "/" + name, kind: .file(source: url, size: Int64(info.st_size)),
                mode: UInt32(info.st_mode & 0o7777), mtime: mtime)
        }
        for name in databaseFilesBefore.subtracting(databaseFilesAfter) {
            if let entry = whiteout(database.path + "/" + name) { entries[entry.path] = entry }
        }
        return Contents(
            entries: entries.values.sorted { $0.path < $1.path }, installed: headers.map(\.package.nevra), removed: removed)
    }

    /// What rpm in the image would run because of what is installed there: the replaced
    /// versions' uninstall scriptlets, and triggers other packages set on a hotfix package.
    private func checkInstalled(_ database: Database) async throws {
        let names = Set(headers.map(\.package.name))
        let scripts = try await query(
            database, "%{NAME}\t%|PREUN?{preun }:{}|%|PREUNPROG?{preun }:{}|%|POSTUN?{postun }:{}|%|POSTUNPROG?{postun }:{}|\n")
        for line in scripts.split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard fields.count == 2, names.contains(String(fields[0])) else { continue }
            let found = Set(fields[1].split(separator: " ").map { "%" + $0 }).sorted(by: >)
            guard !found.isEmpty else { continue }
            throw NeedsBuildah("the image's \(fields[0]) has \(found.joined(separator: ", ")), which rpm runs in the image when it replaces it")
        }
        let triggers = try await query(database, "[%{=NAME}\t%{TRIGGERNAME}\n]")
        for line in triggers.split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard fields.count == 2, names.contains(String(fields[1])) else { continue }
            throw NeedsBuildah("the image's \(fields[0]) has a trigger on \(fields[1]), which only rpm in the image can run")
        }
    }

    /// `rpm -qa --queryformat FORMAT` on the image's database.
    private func query(_ database: Database, _ format: String) async throws -> String {
        do {
            return try await CommandRunner.capture("rpm", rpmArguments(database) + ["-qa", "--queryformat", format], name: "rpm -qa")
        } catch let failure as CommandRunner.Failure {
            throw Failure(description: "the host's rpm cannot read the image's rpm database: " + Self.meaningful(failure.output))
        }
    }

    private func rpmArguments(_ database: Database) -> [String] {
        ["--root", database.root.path, "--dbpath", "/" + database.path, "--define", "_db_backend sqlite"]
    }

    private struct Owner {
        var package: String
        var isDirectory: Bool
    }

    /// Every file the database lists, with the package owning it.
    private func owners(_ database: Database) async throws -> [String: Owner] {
        let output = try await query(database, "[%{=NAME}\\t%{FILEMODES}\\t%{FILENAMES}\\n]")
        var owners: [String: Owner] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, let mode = UInt32(fields[1]) else { continue }
            owners[String(fields[2])] = Owner(package: String(fields[0]), isDirectory: mode & 0o170000 == 0o040000)
        }
        return owners
    }

    /// The payload's entries with the header's types, modes and times (owners are root: the
    /// check refused others).
    private func payloadEntries(_ rpm: URL, header: RPMInstallHeader, into directory: URL, counter: inout Int) throws
        -> [ArchiveWriter.Entry]
    {
        let files = Dictionary(header.files.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        var entries: [ArchiveWriter.Entry] = []
        do {
            let reader = try ArchiveReader(path: rpm.path, format: .rpmPayload)
            while let item = try reader.next() {
                guard let path = LayerExtractor.normalize(item.path), !path.isEmpty, let file = files["/" + path] else {
                    throw Failure(description: "\(rpm.lastPathComponent): the payload holds \(item.path), which the header does not list")
                }
                let mode = file.mode & 0o7777
                if file.isDirectory {
                    entries.append(ArchiveWriter.Entry(path: path, kind: .directory, mode: mode, mtime: file.mtime))
                } else if file.isSymlink {
                    entries.append(ArchiveWriter.Entry(path: path, kind: .symlink(target: file.linkTarget), mode: 0o777, mtime: file.mtime))
                } else {
                    counter += 1
                    let target = directory.appendingPathComponent(String(counter))
                    guard FileManager.default.createFile(atPath: target.path, contents: nil),
                          let handle = FileHandle(forWritingAtPath: target.path)
                    else {
                        throw Failure(description: "cannot write \(target.path)")
                    }
                    defer { try? handle.close() }
                    var size: Int64 = 0
                    try reader.readData { chunk in
                        try handle.write(contentsOf: Data(chunk))
                        size += Int64(chunk.count)
                    }
                    entries.append(ArchiveWriter.Entry(path: path, kind: .file(source: target, size: size), mode: mode, mtime: file.mtime))
                }
            }
        } catch let error as ArchiveError {
            throw Failure(description: "\(rpm.lastPathComponent): unreadable payload: \(error)")
        }
        return entries
    }

    /// rpm's output without Debian's warning about installing RPMs on Debian.
    static func meaningful(_ output: String) -> String {
        output.split(separator: "\n").filter { !$0.contains("alien") && !$0.contains("--force-debian") }
            .joined(separator: "; ").trimmingCharacters(in: .whitespaces)
    }
}
