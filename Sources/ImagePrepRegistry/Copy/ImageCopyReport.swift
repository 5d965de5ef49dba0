import ImagePrepOCI

/// What copying one image (or manifest list) did.
public struct ImageCopyReport: Sendable, Equatable {
    public enum Outcome: String, Sendable {
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
    /// How the blobs were placed: present, mounted, copied, and the bytes copied.
    public var blobs = BlobPlacementCounts()
    /// Bytes of the blobs that were mounted or already present (not transferred).
    public var bytesNotCopied: Int64 = 0

    public var blobsPresent: Int { blobs.present }
    public var blobsMounted: Int { blobs.mounted }
    public var blobsCopied: Int { blobs.copied }
    public var bytesCopied: Int64 { blobs.bytesCopied }
}
