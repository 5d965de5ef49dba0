/// An image reference: `[registry[:port]/]path[:tag][@digest]`, with Docker's defaults.
public struct Reference: Hashable, Sendable, Codable, CustomStringConvertible {
    public static let dockerHubRegistry = "registry-1.docker.io"

    /// `host[:port]` of the registry.
    public var registry: String
    public var repository: String
    public var tag: String?
    public var digest: Digest?

    public init(registry: String, repository: String, tag: String? = nil, digest: Digest? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses a reference the way `docker pull` does: the first path component is a registry
    /// only when it contains `.` or `:` or is `localhost`; otherwise the image is on Docker Hub,
    /// where single-component names live under `library/`.
    public init(_ string: String) throws(OCIError) {
        func invalid(_ reason: String) -> OCIError {
            .invalidReference(string, reason: reason)
        }
        guard !string.isEmpty else { throw invalid("it is empty") }
        guard !string.contains(where: \.isWhitespace) else { throw invalid("it contains whitespace") }

        var remainder = Substring(string)
        if let at = remainder.lastIndex(of: "@") {
            let digestText = String(remainder[remainder.index(after: at)...])
            do {
                digest = try Digest(digestText)
            } catch {
                throw invalid("'\(digestText)' is not a digest (expected sha256: and 64 lowercase hex digits)")
            }
            remainder = remainder[..<at]
        }

        let lastSlash = remainder.lastIndex(of: "/")
        if let colon = remainder.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            let tagText = String(remainder[remainder.index(after: colon)...])
            guard Self.isValidTag(tagText) else {
                throw invalid(
                    "'\(tagText)' is not a valid tag (\(Self.tagCharacters), at most \(Self.maximumTagLength), not starting with '.' or '-')")
            }
            tag = tagText
            remainder = remainder[..<colon]
        }

        var registry = "docker.io"
        var path = String(remainder)
        if let slash = remainder.firstIndex(of: "/") {
            let first = remainder[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" {
                registry = String(first)
                path = String(remainder[remainder.index(after: slash)...])
            }
        }
        guard Self.isValidRegistry(registry) else {
            throw invalid("'\(registry)' is not a valid registry host[:port]")
        }
        if registry == "docker.io" || registry == "index.docker.io" {
            registry = Self.dockerHubRegistry
            if !path.contains("/") { path = "library/" + path }
        }
        guard !path.isEmpty else { throw invalid("the repository path is empty") }
        guard path.count <= 255 else { throw invalid("the repository path is longer than 255 characters") }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            guard Self.isValidPathComponent(component) else {
                if component.contains(where: \.isUppercase) {
                    throw invalid("repository names must be lowercase")
                }
                throw invalid("'\(component)' is not a valid path component (lowercase letters and digits, separated by '.', '_', '__' or '-')")
            }
        }
        self.registry = registry
        self.repository = path
    }

    /// The tag or digest used in manifest URLs: the digest when there is one, else the tag,
    /// else `latest`.
    public var manifestReference: String {
        digest?.description ?? tag ?? "latest"
    }

    public var description: String {
        var text = "\(registry)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    public func withTag(_ tag: String) -> Reference {
        Reference(registry: registry, repository: repository, tag: tag, digest: nil)
    }

    public func withDigest(_ digest: Digest) -> Reference {
        Reference(registry: registry, repository: repository, tag: tag, digest: digest)
    }

    public init(from decoder: any Decoder) throws {
        try self.init(decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    // The grammar is ASCII: checked on bytes, which also keeps out what Character's
    // properties would let in (fullwidth digits are `isNumber` and `isHexDigit`).
    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
    private static func isLower(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) }
    private static func isLetter(_ byte: UInt8) -> Bool {
        isLower(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    /// The most bytes a tag holds.
    public static let maximumTagLength = 128
    /// What a tag is made of, for messages that say what was expected.
    public static let tagCharacters = "letters, digits, '_', '.', '-'"

    /// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    public static func isValidTag(_ tag: String) -> Bool {
        guard let first = tag.utf8.first, tag.utf8.count <= maximumTagLength, isTagWord(first) else { return false }
        return tag.utf8.allSatisfy(isTagByte)
    }

    /// What may follow a tag's first character: one to ``maximumTagLength`` of
    /// `[A-Za-z0-9_.-]`, so it can start with '.' or '-' (an append tag such as `-hotfix`). A
    /// tag with a suffix appended is a tag again when the whole is at most
    /// ``maximumTagLength``, which ``isValidTag(_:)`` tells.
    public static func isValidTagSuffix(_ suffix: String) -> Bool {
        !suffix.isEmpty && suffix.utf8.count <= maximumTagLength && suffix.utf8.allSatisfy(isTagByte)
    }

    private static func isTagWord(_ byte: UInt8) -> Bool { isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: "_") }
    private static func isTagByte(_ byte: UInt8) -> Bool {
        isTagWord(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
    }

    /// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
    private static func isValidPathComponent(_ component: Substring) -> Bool {
        let bytes = component.utf8
        let isAlnum = { (byte: UInt8) in isLower(byte) || isDigit(byte) }
        guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last) else { return false }
        // The separator run since the last alphanumeric: its length and what it holds.
        var (length, dots, underscores, dashes) = (0, 0, 0, 0)
        for byte in bytes {
            switch byte {
            case _ where isAlnum(byte):
                let valid = length == 0 || (length == 1 && dots == 1) || (underscores == length && length <= 2)
                    || dashes == length
                guard valid else { return false }
                (length, dots, underscores, dashes) = (0, 0, 0, 0)
            case UInt8(ascii: "."): (length, dots) = (length + 1, dots + 1)
            case UInt8(ascii: "_"): (length, underscores) = (length + 1, underscores + 1)
            case UInt8(ascii: "-"): (length, dashes) = (length + 1, dashes + 1)
            default: return false
            }
        }
        return true
    }

    private static func isValidRegistry(_ registry: String) -> Bool {
        var host = Substring(registry)
        if let colon = registry.lastIndex(of: ":"), !registry.hasSuffix("]") {
            let port = registry[registry.index(after: colon)...]
            guard !port.isEmpty, port.utf8.count <= 5, port.utf8.allSatisfy(isDigit), let value = Int(port), value <= 65535
            else { return false }
            host = registry[..<colon]
        }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            return host.utf8.dropFirst().dropLast().allSatisfy {
                isDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
                    || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0) || $0 == UInt8(ascii: ":")
            }
        }
        return !host.isEmpty && !host.hasPrefix("-") && !host.hasPrefix(".")
            && host.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }
}
