import Foundation
import ImagePrepOCI
import ImagePrepRegistry

/// An image as the resolve stage read it: the pull source that answered (a registries.conf
/// mirror or the registry), pinned to the digest its tag pointed at, with the manifest and the
/// config it read. The later stages (hotfix planning, the package inventory, the modification's
/// base) take it instead of asking the registry again.
public struct SourceImage: Sendable {
    /// Where the image was read, pinned to the digest the tag pointed at.
    public var reference: Reference
    public var manifest: ResolvedManifest
    /// The config blob as read (verified against its digest), for the layer engine to edit.
    public var configData: Data
    public var config: ImageConfig

    /// Reads `reference`'s manifest and config through `client`.
    static func read(_ reference: Reference, client: RegistryClient) async throws -> SourceImage {
        let manifest = try await client.resolveImage(reference)
        let data = try await client.fetchImageConfigData(of: manifest, in: reference)
        let config = try client.decodeImageConfig(data, of: manifest, in: reference)
        return SourceImage(
            reference: reference.withDigest(manifest.taggedDigest), manifest: manifest, configData: data, config: config)
    }

    /// The repository reference the image's blobs are read from.
    var blobRepository: Reference {
        manifest.indexDigest == nil ? reference : reference.withDigest(manifest.raw.digest)
    }
}
