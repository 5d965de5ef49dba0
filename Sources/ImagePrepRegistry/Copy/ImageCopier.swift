import Foundation
import ImagePrepConcurrency
import ImagePrepOCI
import Logging

/// Copies images between registries the way `prepare` mirrors them: nothing that is already
/// at the destination is transferred again.
public struct ImageCopier: Sendable {
    public enum Platforms: Sendable, Equatable {
        /// Copy only this platform's image out of a manifest list.
        case only(Platform)
        /// Copy the manifest list and every platform's image.
        case all
    }

    public let client: RegistryClient
    public let coordinator: BlobTransferCoordinator
    /// Whether each destination is a registry or an image-serve directory.
    public let destinations: DestinationRouter
    public var platforms: Platforms
    /// How many blobs of one image are transferred at once.
    public var blobConcurrency: Int

    /// What a destination holds under a tag, as an earlier stage found it: handed to
    /// ``copy(from:to:destinationTag:progress:)`` so the copy does not ask again.
    public enum DestinationTag: Sendable, Equatable {
        case absent
        case present(Digest)
    }

    public init(
        client: RegistryClient,
        coordinator: BlobTransferCoordinator = BlobTransferCoordinator(),
        platforms: Platforms = .only(.linuxAMD64),
        blobConcurrency: Int = 4,
        destinations: DestinationRouter? = nil
    ) {
        self.client = client
        self.coordinator = coordinator
        self.destinations = destinations ?? DestinationRouter(client: client)
        self.platforms = platforms
        self.blobConcurrency = max(1, blobConcurrency)
    }

    /// Copies `source` to `destination` (which names the tag to put), skipping it when the
    /// destination tag already points at the same digest; `destinationTag`: what the
    /// destination holds under the tag when the caller has just asked (nil: the copy asks);
    /// `progress` hears the bytes of each blob streamed from the source as they arrive.
    public func copy(
        from source: Reference, to destination: Reference, destinationTag: DestinationTag? = nil,
        progress: ByteProgress = .none
    ) async throws -> ImageCopyReport {
        let target = try await destinations.destination(for: destination)
        let tagged: FetchedManifest
        let manifests: [(FetchedManifest, Manifest)]
        switch try await manifestsToCopy(from: source, to: destination, in: target, destinationTag: destinationTag) {
        case .skipped(let report): return report
        case .copy(let top, let all):
            (tagged, manifests) = (top, all)
        }

        var report = ImageCopyReport(source: source.description, destination: destination.description,
                                     digest: tagged.digest, mediaType: tagged.mediaType, outcome: .copied)
        for (raw, manifest) in manifests {
            let isTagged = raw.digest == tagged.digest
            if !isTagged, try await target.manifest(destination.withDigest(raw.digest)) != nil {
                continue
            }
            let copiedBefore = report.bytesCopied
            for placement in try await copyBlobs(manifest.blobs, from: source, to: destination, progress: progress) {
                report.blobs.add(placement)
            }
            report.bytesNotCopied = report.bytesNotCopied.addingSaturated(
                Self.uniqueSize(manifest.blobs).addingSaturated(-(report.bytesCopied - copiedBefore)))
            if !isTagged {
                try await target.putManifest(raw.bytes, mediaType: raw.mediaType, to: destination.withDigest(raw.digest))
                report.manifestsPushed += 1
            }
        }
        try await target.putManifest(tagged.bytes, mediaType: tagged.mediaType, to: destination)
        report.manifestsPushed += 1
        client.logger.info("copied image", metadata: [
            "source": "\(source)", "destination": "\(destination)", "digest": "\(tagged.digest)",
            "blobsCopied": "\(report.blobsCopied)", "blobsMounted": "\(report.blobsMounted)",
        ])
        return report
    }

    /// What a copy puts: the manifest the destination tag gets, and every image manifest
    /// with it (a list's platforms under `.all`); or the skip, when the destination tag
    /// already names that digest.
    private enum ManifestsToCopy {
        case skipped(ImageCopyReport)
        case copy(tagged: FetchedManifest, manifests: [(FetchedManifest, Manifest)])
    }

    private func manifestsToCopy(
        from source: Reference, to destination: Reference, in target: any ImageDestination, destinationTag: DestinationTag?
    ) async throws -> ManifestsToCopy {
        let top = try await client.fetchManifest(source)
        guard top.mediaType.isIndex else {
            if try await taggedDigest(destination, in: target, known: destinationTag) == top.digest {
                return .skipped(skipped(source, destination, top))
            }
            return .copy(tagged: top, manifests: [(top, try client.decodeManifest(top, reference: source))])
        }
        let index = try client.decodeIndex(top, reference: source)
        switch platforms {
        case .all:
            if try await taggedDigest(destination, in: target, known: destinationTag) == top.digest {
                return .skipped(skipped(source, destination, top))
            }
            var manifests: [(FetchedManifest, Manifest)] = []
            for entry in index.manifests {
                try Self.checkNamedBySHA256(entry, in: source)
                let child = try await client.fetchManifest(source.withDigest(entry.digest))
                guard child.mediaType.isImageManifest else {
                    throw RegistryError.unsupportedMediaType(
                        RegistryClient.context(source, "copying", reference: entry.digest.description),
                        mediaType: child.mediaType)
                }
                manifests.append((child, try client.decodeManifest(child, reference: source)))
            }
            return .copy(tagged: top, manifests: manifests)
        case .only(let platform):
            let entry = try Self.entry(for: platform, in: index, source: source)
            if try await taggedDigest(destination, in: target, known: destinationTag) == entry.digest {
                return .skipped(ImageCopyReport(source: source.description, destination: destination.description,
                                                digest: entry.digest, mediaType: entry.mediaType, outcome: .skipped))
            }
            let child = try await client.fetchManifest(source.withDigest(entry.digest))
            return .copy(tagged: child, manifests: [(child, try client.decodeManifest(child, reference: source))])
        }
    }

    /// The digest a copy from `source` tags at its destination, read without copying
    /// anything: the source's manifest, or of a manifest list the list itself (`.all`) or
    /// the platform's image in it (`.only`). A destination holding that digest under the
    /// tag is skipped by ``copy(from:to:destinationTag:progress:)``.
    public func copiedDigest(from source: Reference) async throws -> Digest {
        let top = try await client.fetchManifest(source)
        guard top.mediaType.isIndex, case .only(let platform) = platforms else { return top.digest }
        return try Self.entry(for: platform, in: try client.decodeIndex(top, reference: source), source: source).digest
    }

    /// The manifest list's image for `platform`, named by sha256.
    static func entry(for platform: Platform, in index: Index, source: Reference) throws -> Descriptor {
        guard let entry = index.manifests.first(where: { $0.platform?.satisfies(platform) == true }) else {
            throw RegistryError.platformNotFound(RegistryClient.context(source, "copying"), wanted: platform,
                                                 available: index.manifests.compactMap(\.platform))
        }
        try checkNamedBySHA256(entry, in: source)
        return entry
    }

    /// Refuses a manifest list entry named by another digest than sha256: registries and
    /// image-serve store and name manifests by their sha256, so a list naming its image by
    /// sha512 would point at a manifest that is not there.
    static func checkNamedBySHA256(_ entry: Descriptor, in source: Reference) throws {
        guard entry.digest.algorithm != "sha256" else { return }
        throw RegistryError.invalidResponse(
            RegistryClient.context(source, "copying"),
            reason: "the manifest list names its image \(entry.digest) by a \(entry.digest.algorithm) digest; "
                + "only manifests named by sha256 are copied")
    }

    /// The bytes of the distinct blobs among `blobs`.
    static func uniqueSize(_ blobs: [Descriptor]) -> Int64 {
        var seen = Set<Digest>()
        return blobs.filter { seen.insert($0.digest).inserted }.totalSize
    }

    /// The manifest `reference` names at its destination (registry or image-serve), or nil.
    public func destinationManifest(_ reference: Reference) async throws -> Descriptor? {
        try await destinations.destination(for: reference).manifest(reference)
    }

    /// The digest the destination tag names: `known` when the caller gave it, else asked.
    private func taggedDigest(
        _ destination: Reference, in target: any ImageDestination, known: DestinationTag?
    ) async throws -> Digest? {
        switch known {
        case .absent?: return nil
        case .present(let digest)?: return digest
        case nil: return try await target.manifest(destination)?.digest
        }
    }

    /// Puts a manifest byte for byte at its destination (registry or image-serve).
    public func putManifest(_ bytes: Data, mediaType: MediaType, to reference: Reference) async throws {
        try await destinations.destination(for: reference).putManifest(bytes, mediaType: mediaType, to: reference)
    }

    private func skipped(_ source: Reference, _ destination: Reference, _ manifest: FetchedManifest) -> ImageCopyReport {
        ImageCopyReport(source: source.description, destination: destination.description, digest: manifest.digest,
                        mediaType: manifest.mediaType, outcome: .skipped)
    }

    /// Puts `blobs` in `destination`'s repository: skipped when there, mounted when the
    /// destination registry holds them in another repository (the source's included), else
    /// streamed from `source` (its bytes told to `progress`).
    public func copyBlobs(
        _ blobs: [Descriptor], from source: Reference, to destination: Reference, progress: ByteProgress = .none
    ) async throws -> [BlobPlacement] {
        var unique: [Descriptor] = []
        for blob in blobs where !unique.contains(where: { $0.digest == blob.digest }) {
            unique.append(blob)
        }
        // A full image-serve file system fails every blob in flight, the small ones too:
        // the others are let finish (their partial files removed) and the error names all
        // the blobs still missing, so the space asked for is what the image needs. Any other
        // failure cancels the blobs in flight and is the copy's error.
        let outcome = await BoundedMap.run(unique, limit: blobConcurrency, decide: { result in
            switch result {
            case .success: return .startMore
            case .failure(let error as ImageServeError) where error.isOutOfSpace: return .finishRunning
            case .failure: return .cancelRunning
            }
        }) { blob -> Result<BlobPlacement, any Error> in
            do {
                return .success(try await self.place(blob, from: source, to: destination, progress: progress))
            } catch {
                return .failure(error)
            }
        }
        if case .failure(let error)? = outcome.cancelledBy { throw error }
        var placements: [BlobPlacement] = []
        var missing: [Descriptor] = []
        var outOfSpace: [ImageServeError] = []
        for (blob, result) in zip(unique, outcome.outputs) {
            switch result {
            case .success(let placement)?: placements.append(placement)
            case .failure(let error as ImageServeError)? where error.isOutOfSpace:
                outOfSpace.append(error)
                missing.append(blob)
            case .failure(let error)?: throw error
            case nil: missing.append(blob)
            }
        }
        guard let first = outOfSpace.first else { return placements }
        missing.sort { $0.size > $1.size }
        guard missing.count > 1 else { throw first }
        let size = missing.reduce(Int64(0)) { $0.addingReportingOverflow($1.size).partialValue }
        let named = missing.map { "\($0.digest) (\($0.size) bytes)" }.joined(separator: ", ")
        throw ImageServeError.outOfSpace(
            URL(fileURLWithPath: first.path), writing: "blobs \(named)", size: size, plural: true)
    }

    /// Streams the blob from the source unless the destination has it or can mount it; an
    /// image config tag discovery already put in the config cache is not fetched again.
    private func place(_ blob: Descriptor, from source: Reference, to destination: Reference, progress: ByteProgress)
        async throws -> BlobPlacement
    {
        let preferred = source.registry == destination.registry ? [source.repository] : []
        let origin: BlobSource = client.configuration.configCache?.data(for: blob.digest).map { .data($0) } ?? .registry(source)
        return try await place(blob, from: origin, in: destination, preferring: preferred, progress: progress)
    }

    /// Puts one blob in `destination`'s repository, registry or image-serve directory:
    /// nothing when it is there, a mount (a hard link, in a directory) when another
    /// repository of the destination holds it (`preferred` first, then those known to), else
    /// its bytes from `source`, checked against its digest. A registry is asked once, with a
    /// mount request whose refusal opens the upload session; a blob placed by several images
    /// at once is transferred once, and a blob known to be in the repository is not asked for
    /// again in the run (``BlobTransferCoordinator``).
    public func place(
        _ blob: Descriptor, from source: BlobSource, in destination: Reference, preferring preferred: [String] = [],
        progress: ByteProgress = .none
    ) async throws -> BlobPlacement {
        let target = try await destinations.destination(for: destination)
        return try await coordinator.place(blob.digest, registry: destination.registry, repository: destination.repository) { known in
            let candidates = (preferred + known.subtracting(preferred).sorted()).filter { $0 != destination.repository }
            switch try await target.mount(blob, into: destination, candidates: candidates) {
            case .present:
                return .alreadyPresent
            case .mounted:
                return .mounted
            case .notMounted(let uploadLocation):
                return .copied(bytes: try await putWithRetry(
                    blob, from: source, to: destination, in: target, uploadLocation: uploadLocation, progress: progress))
            }
        }
    }

    /// A streamed transfer cannot be repeated request by request, so the whole transfer is
    /// retried on connection errors and retryable statuses. A download cut mid-body is first
    /// continued where it stopped, inside the transfer (``BlobResume``): those attempts count
    /// against the same budget, so a source that keeps failing is given up after the
    /// policy's attempts in all.
    private func putWithRetry(
        _ blob: Descriptor,
        from source: BlobSource,
        to destination: Reference,
        in target: any ImageDestination,
        uploadLocation: String?,
        progress: ByteProgress
    ) async throws -> Int64 {
        let policy = client.configuration.retry
        let budget = RetryBudget()
        var location = uploadLocation
        return try await policy.run(budget: budget) { _ in
            do {
                return .done(try await target.putBlob(
                    blob, from: source, into: destination, uploadLocation: location, attempts: budget, progress: progress))
            } catch let error as RegistryError where error.isTransient {
                if policy.isLast(budget.current) {
                    if case .connection(let context, _) = error { await client.breaker.trip(context.registry, after: error) }
                    throw error
                }
                location = nil
                client.logger.info("retrying blob copy", metadata: [
                    "digest": "\(blob.digest)", "error": "\(error)", "attempt": "\(budget.current)",
                ])
                return .retry(failure: error)
            }
        }
    }
}

extension RegistryError {
    /// Whether repeating the operation may succeed.
    var isTransient: Bool {
        switch self {
        case .connection, .rangeRefused: true
        case .http(_, let status, _): RetryPolicy.retryableStatuses.contains(status)
        default: false
        }
    }
}
