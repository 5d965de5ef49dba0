import Foundation

/// An RPM file's identity and contents, from its lead and main header; the
/// payload is read with `ArchiveReader(format: .rpmPayload)`.
public struct RPMPackage: Sendable, Equatable, Encodable {
    public var name: String
    public var epoch: Int?
    public var version: String
    public var release: String
    public var arch: String
    public var summary: String
    public var files: [String]
    public var payloadFormat: String?
    public var payloadCompressor: String?
    public var isSource: Bool

    /// Reads the lead and headers of the RPM at `path` (not the payload).
    public static func read(path: String) throws(RPMError) -> RPMPackage {
        let (header, isSource) = try readMainHeader(path: path)
        return try RPMPackage(header: header, isSource: isSource, path: path)
    }

    /// The main header of the RPM at `path`, and whether it is a source package.
    static func readMainHeader(path: String) throws(RPMError) -> (RPMHeader, isSource: Bool) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw RPMError(file: path, message: FileManager.default.fileExists(atPath: path) ? "cannot open the file" : "no such file")
        }
        defer { try? handle.close() }
        var reader = RPMHeaderReader(handle: handle, file: path)
        let lead = try reader.readUpTo(96, what: "lead")
        guard lead.starts(with: [0xED, 0xAB, 0xEE, 0xDB]) else {
            throw RPMError(file: path, message: "not an RPM file (bad lead magic)")
        }
        guard lead.count == 96 else { throw RPMError(file: path, message: "truncated lead") }
        let isSource = lead[6] == 0 && lead[7] == 1
        // The signature header is padded to an 8-byte boundary.
        let signatureSize = try reader.skipHeader(what: "signature header")
        let padding = (8 - signatureSize % 8) % 8
        _ = try reader.read(padding, what: "signature padding")
        return (try reader.readHeader(what: "main header"), isSource)
    }
}

extension RPMPackage {
    init(header: RPMHeader, isSource: Bool, path: String) throws(RPMError) {
        guard let name = header.string(1000), let version = header.string(1001), let release = header.string(1002) else {
            throw RPMError(file: path, message: "main header lacks name, version or release")
        }
        var files = header.strings(1027) ?? []
        if files.isEmpty, let basenames = header.strings(1117), let dirnames = header.strings(1118),
            let indexes = header.integers(1116), indexes.count == basenames.count
        {
            files = zip(basenames, indexes).map { base, index in
                index >= 0 && index < dirnames.count ? dirnames[index] + base : base
            }
        }
        self.init(
            name: name, epoch: header.integers(1003)?.first, version: version, release: release,
            arch: header.string(1022) ?? "noarch", summary: header.string(1004) ?? "", files: files,
            payloadFormat: header.string(1124), payloadCompressor: header.string(1125), isSource: isSource)
    }
}

public struct RPMError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var message: String

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}

/// The tag store of one RPM header.
struct RPMHeader {
    struct Index {
        var tag: Int
        var type: Int
        var offset: Int
        var count: Int
    }

    var index: [Int: Index]
    var store: [UInt8]

    func string(_ tag: Int) -> String? {
        guard let entry = index[tag], [6, 8, 9].contains(entry.type) else { return nil }
        return cString(at: entry.offset)
    }

    func strings(_ tag: Int) -> [String]? {
        guard let entry = index[tag], [6, 8, 9].contains(entry.type) else { return nil }
        var result: [String] = []
        var offset = entry.offset
        for _ in 0..<entry.count {
            guard let s = cString(at: offset) else { return nil }
            result.append(s)
            offset += s.utf8.count + 1
        }
        return result
    }

    func integers(_ tag: Int) -> [Int]? {
        guard let entry = index[tag], entry.type == 4 || entry.type == 3 else { return nil }
        let width = entry.type == 4 ? 4 : 2
        guard entry.offset >= 0, entry.offset + entry.count * width <= store.count else { return nil }
        return (0..<entry.count).map { i in
            let start = entry.offset + i * width
            return store[start..<start + width].reduce(0) { $0 << 8 | Int($1) }
        }
    }

    private func cString(at offset: Int) -> String? {
        guard offset >= 0, offset < store.count, let end = store[offset...].firstIndex(of: 0) else { return nil }
        return String(decoding: store[offset..<end], as: UTF8.self)
    }
}

struct RPMHeaderReader {
    let handle: FileHandle
    let file: String

    mutating func read(_ count: Int, what: String) throws(RPMError) -> [UInt8] {
        let bytes = try readUpTo(count, what: what)
        guard bytes.count == count else { throw RPMError(file: file, message: "truncated \(what)") }
        return bytes
    }

    mutating func readUpTo(_ count: Int, what: String) throws(RPMError) -> [UInt8] {
        guard count > 0 else { return [] }
        do {
            return [UInt8](try handle.read(upToCount: count) ?? Data())
        } catch {
            throw RPMError(file: file, message: "cannot read the \(what): \(error.localizedDescription)")
        }
    }

    /// Reads a header's intro and returns (entry count, store size).
    private mutating func intro(what: String) throws(RPMError) -> (Int, Int) {
        let intro = try read(16, what: what)
        guard intro.starts(with: [0x8E, 0xAD, 0xE8, 0x01]) else {
            throw RPMError(file: file, message: "bad \(what) magic")
        }
        let count = Self.int32(intro, 8)
        let size = Self.int32(intro, 12)
        // rpm itself refuses headers beyond these limits.
        guard count < 0x10000, size < 256 * 1024 * 1024 else {
            throw RPMError(file: file, message: "\(what) is implausibly large (\(count) tags, \(size) bytes)")
        }
        return (count, size)
    }

    mutating func skipHeader(what: String) throws(RPMError) -> Int {
        let (count, size) = try intro(what: what)
        _ = try read(count * 16 + size, what: what)
        return size
    }

    mutating func readHeader(what: String) throws(RPMError) -> RPMHeader {
        let (count, size) = try intro(what: what)
        let entries = try read(count * 16, what: what)
        let store = try read(size, what: what)
        var index: [Int: RPMHeader.Index] = [:]
        for i in 0..<count {
            let base = i * 16
            let entry = RPMHeader.Index(
                tag: Self.int32(entries, base), type: Self.int32(entries, base + 4),
                offset: Self.int32(entries, base + 8), count: Self.int32(entries, base + 12))
            guard entry.offset >= 0, entry.offset <= size else {
                throw RPMError(file: file, message: "\(what) tag \(entry.tag) points outside the header")
            }
            index[entry.tag] = entry
        }
        return RPMHeader(index: index, store: store)
    }

    static func int32(_ bytes: [UInt8], _ offset: Int) -> Int {
        Int(UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3]))
    }
}
