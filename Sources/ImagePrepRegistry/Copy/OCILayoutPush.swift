import Foundation

/// Pushes the image of an OCI image layout directory (as `buildah push
/// oci:DIR` writes it) to a registry: blobs the destination already has are
/// skipped, the others streamed from disk, then the manifest is put byte for
/// byte under the destination's tag.
public struct OCILayoutPush: Sendable {
    public let client: RegistryClient
    /// Knows which repositories of the destination registry hold which blobs (from the
    /// run's copies), so that base layers are mounted rather than uploaded again.
    public let coordinator: BlobTransferCoordinator

    public init(client: RegistryClient, coordinator: BlobTransferCoordinator = BlobTransferCoordinator()) {
        self.client = client
        self.coordinator = coordinator
    }

    public struct Report: Sendable, Equatable {
        public var digest: Digest
        /// Copied blobs are the ones uploaded from the layout.
        public var blobs = BlobPlacementCounts()
    }

    /// Pushes the layout's image to `destination`; a blob missing there is mounted from a
    /// repository known to hold it (`mountFrom`, on the same registry, is tried first), else
    /// uploaded from the layout.
    public func push(layout: URL, to destination: Reference, mountFrom: [String] = []) async throws -> Report {
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
        let manifestBytes = try Self.read(blob(top.digest, in: layout), context: context)
        guard Digest(of: manifestBytes) == top.digest else {
            throw RegistryError.digestMismatch(context, expected: top.digest, actual: Digest(of: manifestBytes))
        }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: manifestBytes)
        } catch {
            throw RegistryError.invalidResponse(context, reason: "the layout's manifest is not an image manifest: \(error)")
        }
        var report = Report(digest: top.digest)
        let client = client
        for descriptor in manifest.blobs {
            let file = blob(descriptor.digest, in: layout)
            let placement = try await coordinator.place(
                descriptor.digest, registry: destination.registry, repository: destination.repository)
            { known in
                if try await client.headBlob(destination, digest: descriptor.digest) != nil { return .alreadyPresent }
                var uploadLocation: String?
                let candidates = mountFrom + known.subtracting(mountFrom).sorted()
                for from in candidates where from != destination.repository {
                    switch try await client.mountBlob(descriptor.digest, from: from, into: destination) {
                    case .mounted: return .mounted
                    case .uploadStarted(let location): uploadLocation = location
                    }
                    break
                }
                try await client.pushBlob(file: file, descriptor: descriptor, to: destination, uploadLocation: uploadLocation)
                return .copied(bytes: descriptor.size)
            }
            report.blobs.add(placement)
        }
        try await client.pushManifest(manifestBytes, mediaType: top.mediaType, to: destination)
        return report
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
        let location: String
        if let uploadLocation { location = uploadLocation } else { location = try await startUpload(repository, digest: descriptor.digest) }
        let reader = FileBodyReader(handle: handle)
        try await completeUpload(
            location, repository: repository, digest: descriptor.digest,
            body: .stream(length: descriptor.size, reader: { try reader.read(into: $0) }))
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
