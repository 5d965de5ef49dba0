import ImagePrepOCI

/// What copying one image (or manifest list) did.
public struct ImageCopyReport: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        /// The destination already had the manifest with the same digest.
        case skipped
        case copied
    }

    public var source: String
    public var destination: String
    public var digest: Digest
    public var mediaType: MediaType
    public var outcome: Outcome
    /// Manifests put, including each platform's manifest of a list.
    public var manifestsPushed = 0
    public var blobsPresent = 0
    public var blobsMounted = 0
    public var blobsCopied = 0
    public var bytesCopied: Int64 = 0
    /// Bytes of the blobs that were mounted or already present (not transferred).
    public var bytesNotCopied: Int64 = 0

    /// The blob counts as a ``BlobPlacementCounts`` tally.
    public var placements: BlobPlacementCounts {
        var counts = BlobPlacementCounts()
        counts.present = blobsPresent
        counts.mounted = blobsMounted
        counts.copied = blobsCopied
        counts.bytesCopied = bytesCopied
        return counts
    }

    mutating func add(_ placement: BlobPlacement) {
        switch placement {
        case .alreadyPresent: blobsPresent += 1
        case .mounted: blobsMounted += 1
        case .copied(let bytes):
            blobsCopied += 1
            bytesCopied += bytes
        }
    }
}
