import ImagePrepOCI

/// Manifests fetched in this run, by registry, repository and digest. A manifest is
/// content-addressed, so one fetched by tag (tag discovery) and then asked for by its digest
/// (the copy of the image the labels were read from) crosses the network once. Bounded: small
/// manifests only, and a total after which nothing more is kept.
actor FetchedManifests {
    static let maxEntryBytes = 256 * 1024
    static let maxTotalBytes = 16 * 1024 * 1024

    private var entries: [String: FetchedManifest] = [:]
    private var totalBytes = 0

    private static func key(_ registry: String, _ repository: String, _ digest: Digest) -> String {
        "\(registry)/\(repository)@\(digest)"
    }

    func store(_ manifest: FetchedManifest, registry: String, repository: String) {
        let key = Self.key(registry, repository, manifest.digest)
        guard entries[key] == nil, manifest.bytes.count <= Self.maxEntryBytes,
              totalBytes + manifest.bytes.count <= Self.maxTotalBytes
        else { return }
        entries[key] = manifest
        totalBytes += manifest.bytes.count
    }

    func manifest(registry: String, repository: String, digest: Digest) -> FetchedManifest? {
        entries[Self.key(registry, repository, digest)]
    }
}
