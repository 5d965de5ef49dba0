/// An RPM's header read and its payload streamed through libarchive, so a
/// package that can't be installed is caught before it reaches an image.
public struct RPMInspection: Sendable, Encodable {
    public struct PayloadEntry: Sendable, Equatable, Encodable {
        public var path: String
        public var size: Int64
        public var mode: String
        public var linkTarget: String?
    }

    public var file: String
    public var package: RPMPackage
    public var payload: [PayloadEntry]

    public static func inspect(path: String) throws -> RPMInspection {
        let package = try RPMPackage.read(path: path)
        var payload: [PayloadEntry] = []
        do {
            let reader = try ArchiveReader(path: path, format: .rpmPayload)
            while let entry = try reader.next() {
                // Read the data too: a corrupt payload shows only there.
                var size: Int64 = 0
                try reader.readData { size += Int64($0.count) }
                var path = entry.path
                if path.hasPrefix("./") { path.removeFirst() }
                payload.append(
                    PayloadEntry(path: path, size: size, mode: String(entry.mode, radix: 8), linkTarget: entry.linkTarget))
            }
        } catch let error as ArchiveError {
            throw RPMError(file: path, message: "unreadable payload: \(error.entry.map { "\($0): " } ?? "")\(error.message)")
        }
        return RPMInspection(file: path, package: package, payload: payload)
    }
}
