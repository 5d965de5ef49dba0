import ImagePrepConcurrency
import Foundation
import ImagePrepOCI

/// A manifest exactly as the registry serves it.
public struct FetchedManifest: Sendable {
    public var bytes: Data
    public var digest: Digest
    public var mediaType: MediaType

    public var descriptor: Descriptor {
        Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }
}

/// A single-platform image, found through a manifest list when the reference names one.
public struct ResolvedManifest: Sendable {
    public var manifest: Manifest
    public var raw: FetchedManifest
    /// The digest of the manifest list the image was picked from, if any.
    public var indexDigest: Digest?

    /// The digest the tag points at: the list's when picked from one.
    public var taggedDigest: Digest { indexDigest ?? raw.digest }
}

extension RegistryClient {
    static let manifestAccept = [
        MediaType.dockerManifest, .ociManifest, .dockerManifestList, .ociIndex, .dockerSchema1Signed, .dockerSchema1,
    ].map(\.rawValue).joined(separator: ", ")

    static func context(_ reference: Reference, _ operation: String, reference tagOrDigest: String? = nil)
        -> RegistryErrorContext
    {
        RegistryErrorContext(registry: reference.registry, repository: reference.repository,
                             reference: tagOrDigest ?? reference.manifestReference, operation: operation)
    }

    /// The manifest, manifest list or index `reference` names, byte for byte. A digest in the
    /// reference is checked against the bytes; a manifest this client fetched from the same
    /// repository before is not fetched again by its digest.
    public func fetchManifest(_ reference: Reference) async throws -> FetchedManifest {
        if let digest = reference.digest,
           let fetched = await fetchedManifests.manifest(registry: reference.registry, repository: reference.repository, digest: digest)
        {
            return fetched
        }
        let context = Self.context(reference, "fetching manifest")
        var request = RegistryRequest(.get, "/v2/\(reference.repository)/manifests/\(reference.manifestReference)",
                                      registry: reference.registry, context: context)
        request.headers.set("Accept", Self.manifestAccept)
        request.scopes = [Self.pullScope(reference.repository)]
        request.maxCollectedBody = 8 * 1024 * 1024
        // image-serve answers a manifest by digest (a directory) with a redirect to `<digest>/`.
        request.followRedirects = true
        let response = try await send(request)
        let bytes = response.body

        var hasher = DigestHasher(algorithm: reference.digest?.algorithm ?? "sha256")
        hasher.update(bytes)
        let digest = hasher.finalize()
        if let expected = reference.digest, expected != digest {
            throw RegistryError.digestMismatch(context, expected: expected, actual: digest)
        }
        let mediaType = try Self.manifestMediaType(bytes, contentType: response.headers["Content-Type"], context: context)
        let fetched = FetchedManifest(bytes: bytes, digest: digest, mediaType: mediaType)
        await fetchedManifests.store(fetched, registry: reference.registry, repository: reference.repository)
        return fetched
    }

    /// The digest, size and media type of the manifest `reference` names, or nil when the
    /// registry does not have it.
    public func headManifest(_ reference: Reference) async throws -> Descriptor? {
        let context = Self.context(reference, "checking manifest")
        var request = RegistryRequest(.head, "/v2/\(reference.repository)/manifests/\(reference.manifestReference)",
                                      registry: reference.registry, context: context)
        request.headers.set("Accept", Self.manifestAccept)
        request.scopes = [Self.pullScope(reference.repository)]
        request.allowedStatuses = [404]
        request.followRedirects = true
        let response = try await send(request)
        guard response.status != 404 else { return nil }
        guard let digestText = response.headers["Docker-Content-Digest"], let digest = try? Digest(digestText) else {
            // Without the header only the content tells the digest.
            return try await fetchManifest(reference).descriptor
        }
        let size = response.headers["Content-Length"].flatMap { Int64($0) } ?? 0
        let mediaType = response.headers["Content-Type"].map { MediaType(rawValue: $0).essence } ?? .dockerManifest
        return Descriptor(mediaType: mediaType, digest: digest, size: size)
    }

    /// The image for `platform` (default: the configuration's) that `reference` names,
    /// directly or through a manifest list or index.
    public func resolveImage(_ reference: Reference, platform: Platform? = nil) async throws -> ResolvedManifest {
        let top = try await fetchManifest(reference)
        guard top.mediaType.isIndex else {
            return ResolvedManifest(manifest: try decodeManifest(top, reference: reference), raw: top, indexDigest: nil)
        }
        let index = try decodeIndex(top, reference: reference)
        let wanted = platform ?? configuration.defaultPlatform
        guard let entry = index.manifests.first(where: { $0.platform?.satisfies(wanted) == true }) else {
            throw RegistryError.platformNotFound(Self.context(reference, "resolving platform"), wanted: wanted,
                                                 available: index.manifests.compactMap(\.platform))
        }
        let child = try await fetchManifest(reference.withDigest(entry.digest))
        guard child.mediaType.isImageManifest else {
            throw RegistryError.unsupportedMediaType(Self.context(reference, "resolving platform"), mediaType: child.mediaType)
        }
        return ResolvedManifest(manifest: try decodeManifest(child, reference: reference), raw: child, indexDigest: top.digest)
    }

    /// The config blob of the image `reference` names: labels, architecture, user.
    public func fetchImageConfig(_ reference: Reference, platform: Platform? = nil) async throws -> ImageConfig {
        try await fetchImageConfig(of: try await resolveImage(reference, platform: platform), in: reference)
    }

    /// The config blob of an image already resolved from `reference`, from the config cache
    /// when it holds that digest.
    public func fetchImageConfig(of image: ResolvedManifest, in reference: Reference) async throws -> ImageConfig {
        let data = try await fetchImageConfigData(of: image, in: reference)
        do {
            return try JSONDecoder().decode(ImageConfig.self, from: data)
        } catch {
            throw RegistryError.invalidResponse(
                Self.context(reference, "reading image config", reference: image.manifest.config.digest.description),
                reason: "the config blob is not valid image config JSON")
        }
    }

    /// The config blob's bytes, verified against its digest; from the config cache when it
    /// holds that digest.
    public func fetchImageConfigData(of image: ResolvedManifest, in reference: Reference) async throws -> Data {
        let descriptor = image.manifest.config
        if let cached = configuration.configCache?.data(for: descriptor.digest) { return cached }
        let data = try await fetchBlobData(reference, descriptor: descriptor, maxSize: 16 * 1024 * 1024)
        if let failure = configuration.configCache?.store(data, for: descriptor.digest) {
            logger.debug("config cache not written: \(failure)")
        }
        return data
    }

    /// The size of the blob in `repository`'s repository, or nil when it is not there.
    public func headBlob(_ repository: Reference, digest: Digest) async throws -> Int64? {
        let context = Self.context(repository, "checking blob", reference: digest.description)
        var request = RegistryRequest(.head, "/v2/\(repository.repository)/blobs/\(digest)",
                                      registry: repository.registry, context: context)
        request.scopes = [Self.pullScope(repository.repository)]
        request.allowedStatuses = [404]
        request.followRedirects = true
        let response = try await send(request)
        guard response.status != 404 else { return nil }
        return response.headers["Content-Length"].flatMap { Int64($0) } ?? 0
    }

    /// Streams a blob to `writer` in chunks, then checks its digest and size. The bytes are
    /// untrusted until this returns: on a mismatch it throws after the last chunk. `progress`
    /// hears each chunk's size as it arrives. A body cut by a reset or a stall is continued
    /// from the byte it stopped at when the source serves ranges (``BlobResume``), each
    /// continuation an attempt of `attempts` (the caller's budget, or the request's own);
    /// `writer` sees each byte once.
    public func fetchBlob(
        _ repository: Reference,
        descriptor: Descriptor,
        attempts: RetryBudget? = nil,
        progress: ByteProgress = .none,
        to writer: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void
    ) async throws -> Int64 {
        let context = Self.context(repository, "fetching blob", reference: descriptor.digest.description)
        let verifier = BlobVerifier(descriptor: descriptor, context: context)
        var request = blobRequest(repository, descriptor: descriptor, context: context, attempts: attempts)
        request.bodyWriter = progress.observing { bytes in
            try verifier.update(bytes)
            try writer(bytes)
        }
        _ = try await send(request)
        return try verifier.verify()
    }

    /// The `GET` of a blob, its body to be given a writer: redirects followed (to blob
    /// storage), bounded by the blob's size, resumable after a cut.
    func blobRequest(_ repository: Reference, descriptor: Descriptor, context: RegistryErrorContext,
                     attempts: RetryBudget?) -> RegistryRequest
    {
        var request = RegistryRequest(.get, "/v2/\(repository.repository)/blobs/\(descriptor.digest)",
                                      registry: repository.registry, context: context)
        request.scopes = [Self.pullScope(repository.repository)]
        request.followRedirects = true
        request.maxStreamedBody = descriptor.size
        request.resume = BlobResume(descriptor: descriptor, context: context)
        request.attempts = attempts
        return request
    }

    func fetchBlobData(_ repository: Reference, descriptor: Descriptor, maxSize: Int64) async throws -> Data {
        let context = Self.context(repository, "fetching blob", reference: descriptor.digest.description)
        guard descriptor.size <= maxSize else {
            throw RegistryError.invalidResponse(context, reason: "the blob is \(descriptor.size) bytes, more than \(maxSize) allowed")
        }
        let collected = Locked(Data())
        _ = try await fetchBlob(repository, descriptor: descriptor) { bytes in
            collected.withLock { $0.append(contentsOf: bytes) }
        }
        return collected.withLock { $0 }
    }

    /// Every repository in the registry's catalog, following pagination.
    public func listRepositories(registry: String, pageSize: Int = 100) async throws -> [String] {
        struct Page: Decodable { var repositories: [String]? }
        let context = RegistryErrorContext(registry: registry, operation: "listing repositories of")
        var repositories: [String] = []
        var target: String? = "/v2/_catalog?n=\(pageSize)"
        var budget = ListingBudget(context: context)
        while let next = target {
            try budget.next(next)
            var request = RegistryRequest(.get, next, registry: registry, context: context)
            request.scopes = ["registry:catalog:*"]
            let response = try await send(request)
            let page: Page = try decode(response.body, context: context)
            try budget.add(bytes: response.body.count, names: page.repositories?.count ?? 0)
            repositories += page.repositories ?? []
            target = Self.nextPage(response.headers)
        }
        return repositories
    }

    /// Every tag of `reference`'s repository, following pagination.
    public func listTags(_ reference: Reference, pageSize: Int = 1000) async throws -> [String] {
        struct Page: Decodable { var tags: [String]? }
        let context = RegistryErrorContext(registry: reference.registry, repository: reference.repository,
                                           operation: "listing tags of")
        var tags: [String] = []
        var target: String? = "/v2/\(reference.repository)/tags/list?n=\(pageSize)"
        var budget = ListingBudget(context: context)
        while let next = target {
            try budget.next(next)
            var request = RegistryRequest(.get, next, registry: reference.registry, context: context)
            request.scopes = [Self.pullScope(reference.repository)]
            let response = try await send(request)
            let page: Page = try decode(response.body, context: context)
            try budget.add(bytes: response.body.count, names: page.tags?.count ?? 0)
            tags += page.tags ?? []
            target = Self.nextPage(response.headers)
        }
        return tags
    }

    /// Bounds a paginated listing (`_catalog`, `tags/list`): a registry whose `Link` headers
    /// never end, lead back to a page already read, or whose pages add up to more names or
    /// bytes than any real repository has is an error rather than an endless loop or a run
    /// that grows without end. Each page is itself capped at the request's 16 MiB.
    struct ListingBudget {
        static let maxPages = 10_000
        static let maxNames = 100_000
        static let maxBytes = 32 * 1024 * 1024
        let context: RegistryErrorContext
        private var seen: Set<String> = []
        private var names = 0
        private var bytes = 0

        init(context: RegistryErrorContext) {
            self.context = context
        }

        mutating func next(_ target: String) throws {
            guard seen.insert(target).inserted else {
                throw RegistryError.invalidResponse(context, reason: "the pagination links lead back to '\(target)'")
            }
            guard seen.count <= Self.maxPages else {
                throw RegistryError.invalidResponse(context, reason: "the listing has more than \(Self.maxPages) pages")
            }
        }

        /// Counts a page read; throws once the listing holds too many names or bytes.
        mutating func add(bytes pageBytes: Int, names pageNames: Int) throws {
            bytes += pageBytes
            names += pageNames
            guard bytes <= Self.maxBytes else {
                throw RegistryError.invalidResponse(context, reason: "the listing is more than \(Self.maxBytes) bytes (32 MiB)")
            }
            guard names <= Self.maxNames else {
                throw RegistryError.invalidResponse(context, reason: "the listing has more than \(Self.maxNames) names")
            }
        }
    }

    /// The target of a `Link: <…>; rel="next"` header.
    static func nextPage(_ headers: HTTPHeaders) -> String? {
        for value in headers.values("Link") {
            for link in value.split(separator: ",") where link.contains("rel=\"next\"") || link.contains("rel=next") {
                guard let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"), open < close else {
                    continue
                }
                return String(link[link.index(after: open)..<close])
            }
        }
        return nil
    }

    func decodeManifest(_ fetched: FetchedManifest, reference: Reference) throws -> Manifest {
        try decode(fetched.bytes, context: Self.context(reference, "reading manifest", reference: fetched.digest.description))
    }

    /// The manifest list, each entry's media type one of the known manifest types: an entry's
    /// type is written into image-serve's type maps and `.htaccess` files as it is.
    func decodeIndex(_ fetched: FetchedManifest, reference: Reference) throws -> Index {
        let context = Self.context(reference, "reading manifest list", reference: fetched.digest.description)
        let index: Index = try decode(fetched.bytes, context: context)
        let known = MediaType.imageManifests + MediaType.indexes
        if let entry = index.manifests.first(where: { !known.contains($0.mediaType) }) {
            throw RegistryError.invalidResponse(
                context, reason: "the manifest list names \(entry.digest) with media type '\(entry.mediaType)', expected one of "
                    + known.map(\.rawValue).joined(separator: ", "))
        }
        return index
    }

    private func decode<T: Decodable>(_ data: Data, context: RegistryErrorContext) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as OCIError {
            // A descriptor's size or digest out of bounds: say which.
            throw RegistryError.invalidResponse(context, reason: error.description)
        } catch {
            throw RegistryError.invalidResponse(context, reason: "the JSON does not have the expected shape (\(T.self))")
        }
    }

    /// The manifest's media type from `Content-Type`, or from its own `mediaType` field when
    /// the registry sends a generic type. Schema 1 and unknown types are errors.
    static func manifestMediaType(_ bytes: Data, contentType: String?, context: RegistryErrorContext) throws -> MediaType {
        /// Any JSON value: only whether the field is there counts (the descriptors are
        /// checked when the document is decoded).
        struct Present: Decodable {
            init(from decoder: any Decoder) throws {}
        }
        struct Probe: Decodable {
            var schemaVersion: Int?
            var mediaType: String?
            var manifests: Present?
            var config: Present?
        }
        var mediaType = contentType.map { MediaType(rawValue: $0).essence }
        let probe = try? JSONDecoder().decode(Probe.self, from: bytes)
        if probe?.schemaVersion == 1 || mediaType?.isSchema1 == true {
            throw RegistryError.schema1Manifest(context)
        }
        if mediaType == nil || !(mediaType!.isImageManifest || mediaType!.isIndex) {
            if let declared = probe?.mediaType {
                mediaType = MediaType(rawValue: declared)
            } else if probe?.manifests != nil {
                mediaType = .ociIndex
            } else if probe?.config != nil {
                mediaType = .ociManifest
            }
        }
        guard let mediaType, mediaType.isImageManifest || mediaType.isIndex else {
            throw RegistryError.unsupportedMediaType(context, mediaType: mediaType ?? MediaType(rawValue: contentType ?? "none"))
        }
        return mediaType
    }
}

/// Hashes and counts blob bytes as they flow, and checks them against the descriptor.
final class BlobVerifier: Sendable {
    // swift-crypto's hash functions are value types not marked Sendable; this state is only
    // touched under the mutex.
    private struct State: @unchecked Sendable {
        var hasher: DigestHasher
        var count: Int64 = 0
    }

    private let descriptor: Descriptor
    private let context: RegistryErrorContext
    private let state: Locked<State>

    init(descriptor: Descriptor, context: RegistryErrorContext) {
        self.descriptor = descriptor
        self.context = context
        state = Locked(State(hasher: DigestHasher(algorithm: descriptor.digest.algorithm)))
    }

    /// Throws as soon as more bytes arrive than the descriptor's size.
    func update(_ bytes: UnsafeRawBufferPointer) throws {
        let count = state.withLock { state in
            state.hasher.update(bytes)
            state.count += Int64(bytes.count)
            return state.count
        }
        if count > descriptor.size {
            throw RegistryError.sizeMismatch(context, expected: descriptor.size, actual: count)
        }
    }

    /// Returns the byte count when digest and size match the descriptor.
    func verify() throws -> Int64 {
        let (digest, count) = state.withLock { ($0.hasher.finalize(), $0.count) }
        guard count == descriptor.size else {
            throw RegistryError.sizeMismatch(context, expected: descriptor.size, actual: count)
        }
        guard digest == descriptor.digest else {
            throw RegistryError.digestMismatch(context, expected: descriptor.digest, actual: digest)
        }
        return count
    }
}
