import ImagePrepConcurrency
import Foundation
import Logging
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
        try decodeImageConfig(try await fetchImageConfigData(of: image, in: reference), of: image, in: reference)
    }

    /// The config blob `data` of `image` (read from `reference`) as an image config.
    public func decodeImageConfig(_ data: Data, of image: ResolvedManifest, in reference: Reference) throws -> ImageConfig {
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

    func decode<T: Decodable>(_ data: Data, context: RegistryErrorContext) throws -> T {
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
