/// A single image's manifest: Docker v2 schema 2 or OCI image manifest.
public struct Manifest: Hashable, Sendable, Codable {
    public var schemaVersion: Int
    public var mediaType: MediaType?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var annotations: [String: String]?

    public init(mediaType: MediaType = .dockerManifest, config: Descriptor, layers: [Descriptor]) {
        schemaVersion = 2
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
    }

    /// The config blob first, then the layers.
    public var blobs: [Descriptor] { [config] + layers }
}

/// A list of per-platform manifests: Docker manifest list or OCI image index.
public struct Index: Hashable, Sendable, Codable {
    public var schemaVersion: Int
    public var mediaType: MediaType?
    public var manifests: [Descriptor]
    public var annotations: [String: String]?

    public init(mediaType: MediaType = .dockerManifestList, manifests: [Descriptor]) {
        schemaVersion = 2
        self.mediaType = mediaType
        self.manifests = manifests
    }
}
