import Foundation
import ImagePrepOCI

/// Puts an image built on top of a base image at its destination (a registry or an
/// image-serve directory) without downloading the base: every blob goes through
/// ``ImageCopier/place(_:from:in:preferring:)`` — the base's layers are found present, mounted,
/// or (from another registry) streamed across; the new blobs (layer, config) are read from
/// where the build left them — and the manifest, which a registry checks against them, last.
public struct BuiltImagePush: Sendable {
    /// One blob the build made, and where its bytes are.
    public struct Blob: Sendable {
        public var descriptor: Descriptor
        public var source: BlobSource

        public init(_ descriptor: Descriptor, from source: BlobSource) {
            self.descriptor = descriptor
            self.source = source
        }
    }

    public let copier: ImageCopier

    public init(copier: ImageCopier) {
        self.copier = copier
    }

    /// Pushes `manifest` to `target`: `baseLayers` come from `base`, `blobs` from the build.
    /// Returns how the base's layers were placed.
    public func push(
        manifest: Data, mediaType: MediaType, blobs: [Blob], baseLayers: [Descriptor], base: Reference, to target: Reference
    ) async throws -> BlobPlacementCounts {
        let copier = copier
        // The base's layers and the new blobs go up at the same time.
        async let built: Void = withThrowingTaskGroup(of: BlobPlacement.self) { group in
            for blob in blobs {
                group.addTask { try await copier.place(blob.descriptor, from: blob.source, in: target) }
            }
            try await group.waitForAll()
        }
        var counts = BlobPlacementCounts()
        if base.registry == target.registry, base.repository == target.repository {
            // The base's own manifest holds its layers in this repository.
            counts.present = baseLayers.count
        } else {
            for placement in try await copier.copyBlobs(baseLayers, from: base, to: target) {
                counts.add(placement)
            }
        }
        try await built
        try await copier.putManifest(manifest, mediaType: mediaType, to: target)
        return counts
    }
}
