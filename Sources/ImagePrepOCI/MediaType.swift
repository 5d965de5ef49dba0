import Foundation

/// A manifest or blob media type.
public struct MediaType: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public init(stringLiteral value: String) {
        rawValue = value
    }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    public static let dockerManifest: MediaType = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList: MediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerSchema1: MediaType = "application/vnd.docker.distribution.manifest.v1+json"
    public static let dockerSchema1Signed: MediaType = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    public static let dockerConfig: MediaType = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayer: MediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let ociManifest: MediaType = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex: MediaType = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig: MediaType = "application/vnd.oci.image.config.v1+json"
    public static let ociLayer: MediaType = "application/vnd.oci.image.layer.v1.tar+gzip"

    /// Media types of a single image's manifest.
    public static let imageManifests: [MediaType] = [.dockerManifest, .ociManifest]
    /// Media types of a list of per-platform manifests.
    public static let indexes: [MediaType] = [.dockerManifestList, .ociIndex]

    public var isImageManifest: Bool { Self.imageManifests.contains(self) }
    public var isIndex: Bool { Self.indexes.contains(self) }
    public var isSchema1: Bool { self == .dockerSchema1 || self == .dockerSchema1Signed }

    /// The media type without parameters such as `; charset=utf-8`.
    public var essence: MediaType {
        let base = rawValue.split(separator: ";", maxSplits: 1).first.map(String.init) ?? rawValue
        return MediaType(rawValue: base.trimmingCharacters(in: .whitespaces).lowercased())
    }
}
