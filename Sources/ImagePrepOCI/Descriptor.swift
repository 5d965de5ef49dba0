/// A reference to content by digest, as it appears in manifests and indexes.
public struct Descriptor: Hashable, Sendable, Codable {
    public var mediaType: MediaType
    public var digest: Digest
    public var size: Int64
    public var urls: [String]?
    public var annotations: [String: String]?
    public var platform: Platform?

    /// The largest size a decoded descriptor may claim (1 TiB): a manifest's numbers come from
    /// outside, and a few hundred thousand of these still add up without overflow.
    public static let maxSize: Int64 = 1 << 40

    enum CodingKeys: String, CodingKey {
        case mediaType, digest, size, urls, annotations, platform
    }

    /// Decodes a descriptor, refusing a size below 0 or above ``maxSize``
    /// (``OCIError/invalidDescriptorSize(digest:size:)``).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        mediaType = try container.decode(MediaType.self, forKey: .mediaType)
        digest = try container.decode(Digest.self, forKey: .digest)
        size = try container.decode(Int64.self, forKey: .size)
        urls = try container.decodeIfPresent([String].self, forKey: .urls)
        annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations)
        platform = try container.decodeIfPresent(Platform.self, forKey: .platform)
        guard (0...Self.maxSize).contains(size) else {
            throw OCIError.invalidDescriptorSize(digest: digest.description, size: size)
        }
    }

    public init(mediaType: MediaType, digest: Digest, size: Int64, platform: Platform? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.platform = platform
    }
}

public struct Platform: Hashable, Sendable, Codable, CustomStringConvertible {
    public var architecture: String
    public var os: String
    public var variant: String?
    public var osVersion: String?
    public var osFeatures: [String]?

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    public static let linuxAMD64 = Platform(os: "linux", architecture: "amd64")

    public var description: String {
        [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
    }

    /// Whether an image for `self` satisfies a request for `wanted`; a variant is compared
    /// only when `wanted` names one.
    public func satisfies(_ wanted: Platform) -> Bool {
        os == wanted.os && architecture == wanted.architecture
            && (wanted.variant == nil || variant == wanted.variant)
    }
}

extension Int64 {
    /// `self + other`, held at `Int64.max` (or `.min`) instead of trapping: for byte counts
    /// that add up sizes from outside.
    public func addingSaturated(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }
}

extension Sequence where Element == Descriptor {
    /// The sizes added up without trapping (see ``Swift/Int64/addingSaturated(_:)``).
    public var totalSize: Int64 {
        reduce(0) { $0.addingSaturated($1.size) }
    }
}
