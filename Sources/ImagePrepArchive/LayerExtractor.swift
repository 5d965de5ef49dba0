import Foundation

/// Applies image layers, in order, to a directory: OCI whiteouts remove what
/// lower layers put there, and no entry is ever written outside the root —
/// absolute paths are made relative, `..` is refused, and nothing is written
/// through a symbolic link. Devices, FIFOs, hard links to anything but a
/// regular file of the image and unsafe entries are skipped with a note.
/// Errors name the layer and the entry's path in the image, never the
/// directory extracted into.
public struct LayerExtractor {
    public let root: URL
    /// Which (normalized, relative) paths to extract; whiteouts apply to all.
    public var include: (String) -> Bool
    /// The largest file written, in bytes (its header's claim and the data
    /// read); nil for no limit.
    public var maxFileSize: Int64?
    /// Names the limit in the error for a file over it (the option that sets it).
    public var maxFileSizeName = "the size limit"
    /// The most bytes written in all (every file's claim and data counted, a file written
    /// twice twice); nil for no limit. Named by `maxFileSizeName` too.
    public var maxTotalSize: Int64?
    /// The most entries (files, directories, links) extracted; nil for no limit.
    public var maxEntries: Int?
    public private(set) var bytesExtracted: Int64 = 0
    public private(set) var entriesExtracted = 0
    public private(set) var notes: [String] = []

    public init(root: URL, include: @escaping (String) -> Bool = { _ in true }) {
        self.root = root
        self.include = include
    }

    /// `path` without leading `/` or `./`, or nil when it climbs out with `..`.
    public static func normalize(_ path: String) -> String? {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." && !part.isEmpty {
            if part == ".." { return nil }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }

    /// Applies one layer on top of what is already extracted.
    public mutating func apply(_ reader: ArchiveReader, layer: String) throws(ArchiveError) {
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw ArchiveError(source: layer, message: "cannot make the directory to extract into: \(Self.reason(error))")
        }
        var writtenInThisLayer = Set<String>()
        while let entry = try reader.next() {
            do {
                if let path = try applyEntry(entry, from: reader, layer: layer, writtenInThisLayer: writtenInThisLayer) {
                    writtenInThisLayer.insert(path)
                }
            } catch let error as ArchiveError {
                throw error
            } catch {
                // A file system error (Foundation's names the extraction directory).
                throw ArchiveError(source: layer, entry: entry.path, message: Self.reason(error))
            }
        }
    }

    /// Applies one entry; returns the path written, if any.
    private mutating func applyEntry(
        _ entry: ArchiveEntry, from reader: ArchiveReader, layer: String, writtenInThisLayer: Set<String>
    ) throws -> String? {
        guard let path = Self.normalize(entry.path) else {
            notes.append("\(layer): refused \(entry.path): the path leaves the image root")
            return nil
        }
        if path.isEmpty { return nil }
        // Not NSString's path methods: deletingLastPathComponent traps on
        // a one-character path (swift-corelibs-foundation 6.3).
        let slash = path.lastIndex(of: "/")
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let parent = slash.map { String(path[..<$0]) } ?? ""
        if name == ".wh..wh..opq" {
            try clear(parent, keeping: writtenInThisLayer, layer: layer)
            return nil
        }
        if name.hasPrefix(".wh.") {
            let hidden = parent.isEmpty ? String(name.dropFirst(4)) : parent + "/" + name.dropFirst(4)
            try remove(hidden, layer: layer)
            return nil
        }
        guard include(path) || (entry.kind == .directory && isAncestorOfIncluded(path)) else { return nil }
        guard try parentIsSafe(path) else {
            notes.append("\(layer): refused \(entry.path): a parent is a symbolic link")
            return nil
        }
        entriesExtracted += 1
        if let maxEntries, entriesExtracted > maxEntries {
            throw ArchiveError(source: layer, entry: entry.path, message: "more than \(maxEntries) entries extracted, over the limit")
        }
        let target = root.appendingPathComponent(path)
        switch entry.kind {
        case .directory:
            try makeDirectory(target, mode: entry.mode, path: path, layer: layer)
        case .file:
            try removeExisting(target)
            if let maxFileSize, entry.size > maxFileSize {
                throw ArchiveError(source: layer, entry: entry.path, message: tooLarge(entry.size))
            }
            if let maxTotalSize, entry.size > maxTotalSize - bytesExtracted {
                throw ArchiveError(source: layer, entry: entry.path, message: tooLargeInAll(bytesExtracted.addingReportingOverflow(entry.size)))
            }
            try writeFile(target, mode: entry.mode, from: reader, layer: layer, path: path)
        case .symlink:
            try removeExisting(target)
            try FileManager.default.createSymbolicLink(atPath: target.path, withDestinationPath: entry.linkTarget ?? "")
        case .hardlink:
            guard let linkTarget = entry.linkTarget.flatMap(Self.normalize), !linkTarget.isEmpty,
                try parentIsSafe(linkTarget), isRegularFile(root.appendingPathComponent(linkTarget))
            else {
                notes.append("\(layer): skipped hard link \(entry.path): its target is not a file of the image")
                return nil
            }
            try removeExisting(target)
            try FileManager.default.linkItem(at: root.appendingPathComponent(linkTarget), to: target)
        case .other:
            notes.append("\(layer): skipped \(entry.path): devices and FIFOs are not extracted")
            return nil
        }
        return path
    }

    /// Directories leading to included paths are made as needed by
    /// `writeFile`; an explicit directory entry is kept when it may hold one.
    private func isAncestorOfIncluded(_ path: String) -> Bool {
        include(path + "/")
    }

    private func parentIsSafe(_ path: String) throws -> Bool {
        var current = root
        for part in path.split(separator: "/").dropLast() {
            current.appendPathComponent(String(part))
            var info = stat()
            if lstat(current.path, &info) != 0 { return true }  // not there yet: made as a directory
            if info.st_mode & S_IFMT == S_IFLNK { return false }
        }
        return true
    }

    private func makeDirectory(_ target: URL, mode: UInt32, path: String, layer: String) throws {
        var info = stat()
        if lstat(target.path, &info) == 0 {
            if info.st_mode & S_IFMT == S_IFDIR { return }
            try FileManager.default.removeItem(at: target)
        }
        try makeDirectories(path, layer: layer)
        chmod(target.path, mode_t(mode | 0o700))
    }

    /// `path` (relative to the root) and the directories leading to it, with mkdir(2): its
    /// error names the entry, Foundation's the extraction directory.
    private func makeDirectories(_ path: Substring, layer: String) throws {
        var current = root.path
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw ArchiveError(source: layer, entry: String(path), message: "cannot create: \(String(cString: strerror(errno)))")
            }
        }
    }

    private func makeDirectories(_ path: String, layer: String) throws {
        try makeDirectories(Substring(path), layer: layer)
    }

    private mutating func writeFile(_ target: URL, mode: UInt32, from reader: ArchiveReader, layer: String, path: String) throws {
        if let slash = path.lastIndex(of: "/") {
            do {
                try makeDirectories(path[..<slash], layer: layer)
            } catch var error as ArchiveError {
                error.entry = path
                throw error
            }
        }
        let fd = open(target.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(mode & 0o777 | 0o600))
        guard fd >= 0 else {
            throw ArchiveError(source: layer, entry: path, message: "cannot create: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var total: Int64 = 0
        let (maxFileSize, maxTotalSize, before) = (maxFileSize, maxTotalSize, bytesExtracted)
        defer { bytesExtracted = before + total }
        try reader.readData { chunk in
            total += Int64(chunk.count)
            if let maxFileSize, total > maxFileSize {
                throw ArchiveError(source: layer, entry: path, message: tooLarge(total))
            }
            if let maxTotalSize, total > maxTotalSize - before {
                throw ArchiveError(source: layer, entry: path, message: tooLargeInAll(before.addingReportingOverflow(total)))
            }
            var offset = 0
            while offset < chunk.count {
                let written = Foundation.write(fd, chunk.baseAddress!.advanced(by: offset), chunk.count - offset)
                guard written > 0 else {
                    throw ArchiveError(source: layer, entry: path, message: "cannot write: \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
    }

    private func isRegularFile(_ url: URL) -> Bool {
        var info = stat()
        return lstat(url.path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }

    private func tooLargeInAll(_ sum: (partialValue: Int64, overflow: Bool)) -> String {
        let size = sum.overflow ? Int64.max : sum.partialValue
        return "the files extracted add up to \(size) bytes or more, over the limit of \(maxTotalSize ?? 0) bytes in all (\(maxFileSizeName))"
    }

    private func tooLarge(_ size: Int64) -> String {
        "\(size) bytes or more, over the limit of \(maxFileSize ?? 0) bytes (\(maxFileSizeName))"
    }

    /// A file system error in words, without the paths Foundation puts in its messages.
    static func reason(_ error: any Error) -> String {
        let error = error as NSError
        var code: Int?
        if error.domain == NSPOSIXErrorDomain {
            code = error.code
        } else if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            code = underlying.code
        }
        if let code { return "cannot extract: \(String(cString: strerror(Int32(code))))" }
        return "cannot extract (file system error \(error.code))"
    }

    private func removeExisting(_ target: URL) throws {
        var info = stat()
        if lstat(target.path, &info) == 0 { try FileManager.default.removeItem(at: target) }
    }

    private mutating func remove(_ path: String, layer: String) throws {
        guard let normalized = Self.normalize(path), !normalized.isEmpty, try parentIsSafe(normalized) else {
            notes.append("\(layer): refused whiteout of \(path)")
            return
        }
        try removeExisting(root.appendingPathComponent(normalized))
    }

    private mutating func clear(_ directory: String, keeping kept: Set<String>, layer: String) throws {
        guard try directory.isEmpty || parentIsSafe(directory + "/x") else {
            notes.append("\(layer): refused opaque whiteout of \(directory)")
            return
        }
        let url = directory.isEmpty ? root : root.appendingPathComponent(directory)
        guard let children = try? FileManager.default.contentsOfDirectory(atPath: url.path) else { return }
        for child in children {
            let path = directory.isEmpty ? child : directory + "/" + child
            if kept.contains(path) { continue }
            try FileManager.default.removeItem(at: url.appendingPathComponent(child))
        }
    }
}
