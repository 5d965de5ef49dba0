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
                throw invalid("'\(tagText)' is not a valid tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')")
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

    public static func isValidTag(_ tag: String) -> Bool {
        guard let first = tag.first, tag.count <= 128 else { return false }
        let isWord = { (c: Character) in c.isASCII && (c.isLetter || c.isNumber || c == "_") }
        return isWord(first) && tag.allSatisfy { isWord($0) || $0 == "." || $0 == "-" }
    }

    /// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
    private static func isValidPathComponent(_ component: Substring) -> Bool {
        let isAlnum = { (c: Character) in c.isASCII && (c.isLowercase || c.isNumber) }
        guard let first = component.first, let last = component.last, isAlnum(first), isAlnum(last) else {
            return false
        }
        var separator = ""
        for character in component {
            if isAlnum(character) {
                guard separator.isEmpty || separator == "." || separator == "_" || separator == "__"
                    || separator.allSatisfy({ $0 == "-" })
                else { return false }
                separator = ""
            } else if character == "." || character == "_" || character == "-" {
                separator.append(character)
            } else {
                return false
            }
        }
        return true
    }

    private static func isValidRegistry(_ registry: String) -> Bool {
        var host = Substring(registry)
        if let colon = registry.lastIndex(of: ":"), !registry.hasSuffix("]") {
            let port = registry[registry.index(after: colon)...]
            guard !port.isEmpty, port.allSatisfy(\.isNumber), let value = Int(port), value <= 65535 else {
                return false
            }
            host = registry[..<colon]
        }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            return host.dropFirst().dropLast().allSatisfy { $0.isHexDigit || $0 == ":" }
        }
        return !host.isEmpty && !host.hasPrefix("-") && !host.hasPrefix(".")
            && host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
    }
}
