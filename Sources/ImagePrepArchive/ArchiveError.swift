/// An archive that libarchive could not read, with its name, the entry it
/// was on and libarchive's own message.
public struct ArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file or layer being read.
    public var source: String
    public var entry: String?
    public var message: String

    public init(source: String, entry: String? = nil, message: String) {
        self.source = source
        self.entry = entry
        self.message = message
    }

    public var description: String {
        if let entry { return "\(source): \(entry): \(message)" }
        return "\(source): \(message)"
    }
}
