/// A reference to content by digest, as it appears in manifests and indexes.
public struct Descriptor: Hashable, Sendable, Codable {
    public var mediaType: MediaType
    public var digest: Digest
    public var size: Int64
    public var urls: [String]?
    public var annotations: [String: String]?
    public var platform: Platform?

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
