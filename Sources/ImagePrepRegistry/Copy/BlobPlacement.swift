import ImagePrepOCI

/// How a blob came to be in the destination repository.
public enum BlobPlacement: Sendable, Equatable {
    case alreadyPresent
    case mounted
    case copied(bytes: Int64)
}

/// How many blobs were found in place, mounted or copied (and the bytes copied): the one
/// blob counter of copies, pushes and modifications.
public struct BlobPlacementCounts: Sendable, Equatable {
    public var present = 0
    public var mounted = 0
    public var copied = 0
    public var bytesCopied: Int64 = 0

    public init() {}

    public mutating func add(_ placement: BlobPlacement) {
        switch placement {
        case .alreadyPresent: present += 1
        case .mounted: mounted += 1
        case .copied(let bytes):
            copied += 1
            bytesCopied = bytesCopied.addingSaturated(bytes)
        }
    }
}
