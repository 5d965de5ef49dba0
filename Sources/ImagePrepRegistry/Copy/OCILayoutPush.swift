import Foundation
import ImagePrepOCI

/// Pushes the image of an OCI image layout directory (as `buildah push
/// oci:DIR` writes it) to a registry or an image-serve directory: blobs the
/// destination already has are skipped, the others streamed from disk, then
/// the manifest is put byte for byte under the destination's tag.
public struct OCILayoutPush: Sendable {
    public let copier: ImageCopier
    public var client: RegistryClient { copier.client }

    /// `copier`'s coordinator knows which repositories of the destination registry hold which
    /// blobs (from the run's copies), so that base layers are mounted rather than uploaded.
    public init(copier: ImageCopier) {
        self.copier = copier
    }

    public init(client: RegistryClient) {
        self.init(copier: ImageCopier(client: client))
    }

    /// The image a build started from: where it is, its layers and their diff_ids.
    public struct Base: Sendable {
        public var reference: Reference
        public var layers: [Descriptor]
        public var diffIDs: [Digest]

        public init(reference: Reference, layers: [Descriptor], diffIDs: [Digest]) {
            self.reference = reference
            self.layers = layers
            self.diffIDs = diffIDs
        }
    }

    public struct Report: Sendable, Equatable {
        public var digest: Digest
        /// Copied blobs are the ones uploaded from the layout (or streamed from the base's
        /// registry, for reused base layers the destination registry lacks).
        public var blobs = BlobPlacementCounts()
        /// Base layers pushed as the base's own blobs instead of the build's recompressed copies.
        public var baseLayersReused = 0
    }

    /// Pushes the layout's image to `destination`; a blob missing there is mounted from a
    /// repository known to hold it (`mountFrom`, on the same registry, first), else uploaded.
    ///
    /// With `base`, the layers the build kept from its base (same diff_id at the same
    /// position) are pushed as the base's own compressed blobs: a build tool recompresses
    /// them under new digests, which would store and send the whole base again.
    public func push(layout: URL, to destination: Reference, mountFrom: [String] = [], base: Base? = nil) async throws
        -> Report
    {
        let context = RegistryClient.context(destination, "pushing OCI layout \(layout.path)")
        let indexData = try Self.read(layout.appendingPathComponent("index.json"), context: context)
        let index: Index
        do {
            index = try JSONDecoder().decode(Index.self, from: indexData)
        } catch {
            throw RegistryError.invalidResponse(context, reason: "index.json is not an OCI index: \(error)")
        }
        guard let top = index.manifests.first else {
            throw RegistryError.invalidResponse(context, reason: "index.json lists no manifest")
        }
        return try await push(layout: layout, manifest: top, to: destination, mountFrom: mountFrom, base: base)
    }

    /// Pushes the image of one manifest of the layout's index (a bundle holds several).
    public func push(layout: URL, manifest top: Descriptor, to destination: Reference, mountFrom: [String] = [],
                     base: Base? = nil) async throws -> Report
    {
        let context = RegistryClient.context(destination, "pushing OCI layout \(layout.path)")
        var manifestBytes = try Self.read(blob(top.digest, in: layout), context: context)
        guard Digest(of: manifestBytes) == top.digest else {
            throw RegistryError.digestMismatch(context, expected: top.digest, actual: Digest(of: manifestBytes))
        }
        var manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: manifestBytes)
        } catch {
            throw RegistryError.invalidResponse(context, reason: "the layout's manifest is not an image manifest: \(error)")
        }

        var reused: [Descriptor] = []
        if let base {
            let config = try JSONDecoder().decode(
                ImageConfig.self, from: try Self.read(blob(manifest.config.digest, in: layout), context: context))
            let built = config.rootfs?.diffIDs ?? []
            var replacements: [Int: Descriptor] = [:]
            for position in 0..<min(base.layers.count, base.diffIDs.count, built.count, manifest.layers.count)
            where built[position] == base.diffIDs[position]
                && Self.isGzipLayer(base.layers[position].mediaType) && Self.isGzipLayer(manifest.layers[position].mediaType)
            {
                // The same bytes once uncompressed; the layout's media type names them in this manifest.
                replacements[position] = Descriptor(
                    mediaType: manifest.layers[position].mediaType, digest: base.layers[position].digest,
                    size: base.layers[position].size)
                reused.append(base.layers[position])
            }
            if !replacements.isEmpty {
                manifestBytes = try Self.replacingLayers(replacements, in: manifestBytes, context: context)
                for (position, descriptor) in replacements { manifest.layers[position] = descriptor }
            }
        }

        var report = Report(digest: Digest(of: manifestBytes), baseLayersReused: reused.count)
        if let base, !reused.isEmpty {
            for placement in try await copier.copyBlobs(reused, from: base.reference, to: destination) {
                report.blobs.add(placement)
            }
        }
        let reusedDigests = Set(reused.map(\.digest))
        for descriptor in manifest.blobs where !reusedDigests.contains(descriptor.digest) {
            let file = blob(descriptor.digest, in: layout)
            report.blobs.add(try await copier.place(descriptor, from: .file(file), in: destination, preferring: mountFrom))
        }
        let mediaType = manifest.mediaType ?? top.mediaType
        try await copier.putManifest(manifestBytes, mediaType: mediaType, to: destination)
        return report
    }

    static func isGzipLayer(_ mediaType: MediaType) -> Bool {
        mediaType == .ociLayer || mediaType == .dockerLayer
    }

    /// The manifest with some layers' digest and size replaced; everything else kept.
    static func replacingLayers(_ replacements: [Int: Descriptor], in manifest: Data, context: RegistryErrorContext) throws -> Data {
        var document: ImageDocument
        do {
            document = try ImageDocument(manifest, what: "the layout's manifest")
        } catch {
            throw RegistryError.invalidResponse(context, reason: "\(error)")
        }
        for (position, descriptor) in replacements {
            guard document.setLayer(at: position, digest: descriptor.digest, size: descriptor.size) else {
                throw RegistryError.invalidResponse(context, reason: "the layout's manifest has no layer \(position)")
            }
        }
        return document.encoded()
    }

    private func blob(_ digest: Digest, in layout: URL) -> URL {
        layout.appendingPathComponent("blobs/\(digest.algorithm)/\(digest.encoded)")
    }

    private static func read(_ url: URL, context: RegistryErrorContext) throws -> Data {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RegistryError.invalidResponse(context, reason: "cannot read \(url.path)")
        }
        return data
    }
}

extension RegistryClient {
    /// Uploads a blob from a file, streaming it; the registry checks the
    /// digest before committing it.
    /// Uses `uploadLocation` when a session is already open (after a refused mount).
    public func pushBlob(file: URL, descriptor: Descriptor, to repository: Reference, uploadLocation: String? = nil) async throws {
        let context = Self.context(repository, "uploading blob", reference: descriptor.digest.description)
        guard let handle = FileHandle(forReadingAtPath: file.path) else {
            throw RegistryError.invalidResponse(context, reason: "cannot read \(file.path)")
        }
        defer { try? handle.close() }
        let reader = FileBodyReader(handle: handle)
        try await upload(
            .stream(length: descriptor.size, reader: { try reader.read(into: $0) }), digest: descriptor.digest, to: repository,
            uploadLocation: uploadLocation)
    }
}

/// Feeds a request body from an open file, one buffer at a time.
private final class FileBodyReader: @unchecked Sendable {
    // Only the transfer thread of the one request calls `read`.
    private let handle: FileHandle

    init(handle: FileHandle) {
        self.handle = handle
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let data = try handle.read(upToCount: buffer.count) ?? Data()
        data.copyBytes(to: buffer)
        return data.count
    }
}
