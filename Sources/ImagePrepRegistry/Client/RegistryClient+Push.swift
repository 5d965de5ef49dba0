import Foundation
import ImagePrepOCI
import Logging

/// What a cross-repository mount request achieved.
public enum MountResult: Sendable, Equatable {
    /// The registry linked the blob into the repository (201).
    case mounted
    /// The registry did not mount (202) and opened an upload session instead.
    case uploadStarted(location: String)
}

extension RegistryClient {
    /// Uploads a blob held in memory (a config or a small layer) in one request.
    @discardableResult
    public func pushBlob(_ data: Data, mediaType: MediaType = .dockerLayer, to repository: Reference) async throws
        -> Descriptor
    {
        let descriptor = Descriptor(mediaType: mediaType, digest: Digest(of: data), size: Int64(data.count))
        let location = try await startUpload(repository, digest: descriptor.digest)
        try await completeUpload(location, repository: repository, digest: descriptor.digest, body: .data(data))
        return descriptor
    }

    /// Asks the registry to link a blob from `sourceRepository` (same registry) into
    /// `repository` without transferring it. With `repository` itself as the source this asks
    /// whether the blob is there and opens an upload session when it is not, in one request.
    public func mountBlob(_ digest: Digest, from sourceRepository: String, into repository: Reference) async throws
        -> MountResult
    {
        let context = Self.context(repository, "mounting blob", reference: digest.description)
        var request = RegistryRequest(.post, "/v2/\(repository.repository)/blobs/uploads/",
                                      registry: repository.registry, context: context)
        request.query = [("mount", digest.description), ("from", sourceRepository)]
        request.scopes = [Self.pushScope(repository.repository)]
        if sourceRepository != repository.repository { request.scopes.append(Self.pullScope(sourceRepository)) }
        let response = try await send(request)
        if response.status == 201 { return .mounted }
        guard let location = response.headers["Location"] else {
            throw RegistryError.invalidResponse(context, reason: "HTTP \(response.status) without a Location header")
        }
        return .uploadStarted(location: location)
    }

    /// Streams a blob from `source` into `destination`, verifying its digest and size while
    /// it flows; the blob is committed only when both match, and never held whole in memory.
    /// Uses `uploadLocation` when a session is already open (after a refused mount). A blob up
    /// to ``Configuration/monolithicUploadLimit`` goes in one `PUT ?digest=` (the registry checks
    /// the digest before committing it), a larger one in a `PATCH` and an empty `PUT`. A
    /// download cut by a reset or a stall is continued from the byte it stopped at into the
    /// same upload, which waits for it (``BlobResume``); each continuation is an attempt of
    /// `attempts` (the caller's budget, or the download's own).
    public func copyBlob(
        _ descriptor: Descriptor,
        from source: Reference,
        to destination: Reference,
        uploadLocation: String? = nil,
        attempts: RetryBudget? = nil,
        progress: ByteProgress = .none
    ) async throws -> Int64 {
        let location: String
        if let uploadLocation {
            location = uploadLocation
        } else {
            location = try await startUpload(destination, digest: descriptor.digest)
        }
        // Make sure both registries' endpoints and tokens are ready: the streamed upload below
        // cannot be sent twice (the download can be continued, into the same upload).
        let sourceContext = Self.context(source, "fetching blob", reference: descriptor.digest.description)
        let destinationContext = Self.context(destination, "uploading blob", reference: descriptor.digest.description)
        _ = try await endpoint(for: source.registry, context: sourceContext)

        let monolithic = descriptor.size <= configuration.monolithicUploadLimit
        let transfer = await stream(
            descriptor, from: source, to: destination, location: location, monolithic: monolithic,
            contexts: (sourceContext, destinationContext), attempts: attempts, progress: progress)
        let uploadResponse: HTTPResponse
        switch (transfer.downloadError, transfer.upload) {
        case (let error?, _):
            await cancelUpload(location, registry: destination.registry, context: destinationContext)
            throw error
        case (nil, .failure(let error)):
            await cancelUpload(location, registry: destination.registry, context: destinationContext)
            throw error
        case (nil, .success(let response)):
            uploadResponse = response
        }
        if monolithic { return transfer.bytes }
        guard let next = uploadResponse.headers["Location"] else {
            throw RegistryError.invalidResponse(destinationContext, reason: "the upload answer has no Location header")
        }
        do {
            try await completeUpload(next, repository: destination, digest: descriptor.digest, body: .empty)
        } catch {
            await cancelUpload(next, registry: destination.registry, context: destinationContext)
            throw error
        }
        return transfer.bytes
    }

    /// What one streamed transfer came to: the download's error, the upload's answer, and the
    /// bytes verified.
    private struct StreamedTransfer {
        var downloadError: (any Error)?
        var upload: Result<HTTPResponse, any Error>
        var bytes: Int64
    }

    /// The download from `source` and the upload to `location` at once, holding two
    /// transport slots: the download's bytes are verified as they pass into the upload's body.
    private func stream(
        _ descriptor: Descriptor, from source: Reference, to destination: Reference, location: String,
        monolithic: Bool, contexts: (source: RegistryErrorContext, destination: RegistryErrorContext),
        attempts: RetryBudget?, progress: ByteProgress
    ) async -> StreamedTransfer {
        let (sourceContext, destinationContext) = contexts
        return await transport.withLease(slots: 2) { lease -> StreamedTransfer in
            let pipe = BlobPipe()
            let verifier = BlobVerifier(descriptor: descriptor, context: sourceContext)

            var upload = RegistryRequest(monolithic ? .put : .patch, location, registry: destination.registry,
                                         context: destinationContext)
            if monolithic { upload.query = [("digest", descriptor.digest.description)] }
            upload.headers.set("Content-Type", "application/octet-stream")
            upload.body = .stream(length: descriptor.size, reader: { try pipe.read(into: $0) })
            upload.scopes = [Self.pushScope(destination.repository)]
            upload.lease = lease

            var download = blobRequest(source, descriptor: descriptor, context: sourceContext, attempts: attempts)
            download.lease = lease
            download.bodyWriter = progress.observing { bytes in
                try verifier.update(bytes)
                try pipe.write(bytes)
            }

            async let uploaded: HTTPResponse = {
                do {
                    let response = try await self.send(upload)
                    // Anything the source still sends has nowhere to go.
                    pipe.fail(RegistryError.sizeMismatch(sourceContext, expected: descriptor.size, actual: descriptor.size + 1))
                    return response
                } catch {
                    pipe.fail(error)
                    throw error
                }
            }()

            var downloadError: (any Error)?
            var bytes: Int64 = 0
            do {
                _ = try await send(download)
                bytes = try verifier.verify()
                pipe.finish()
            } catch {
                downloadError = error
                pipe.fail(error)
            }
            let uploadResult: Result<HTTPResponse, any Error>
            do {
                uploadResult = .success(try await uploaded)
            } catch {
                uploadResult = .failure(error)
            }
            return StreamedTransfer(downloadError: downloadError, upload: uploadResult, bytes: bytes)
        }
    }

    /// Puts a manifest byte for byte, so its digest does not change. `reference` names the
    /// tag, or the digest for a manifest referenced from a list.
    @discardableResult
    public func pushManifest(_ bytes: Data, mediaType: MediaType, to reference: Reference) async throws -> Digest {
        let digest = Digest(of: bytes)
        let context = Self.context(reference, "pushing manifest")
        var request = RegistryRequest(.put, "/v2/\(reference.repository)/manifests/\(reference.manifestReference)",
                                      registry: reference.registry, context: context)
        request.headers.set("Content-Type", mediaType.rawValue)
        request.body = .data(bytes)
        request.scopes = [Self.pushScope(reference.repository)]
        let response = try await send(request)
        if let returned = response.headers["Docker-Content-Digest"].flatMap({ try? Digest($0) }), returned != digest {
            throw RegistryError.digestMismatch(context, expected: digest, actual: returned)
        }
        return digest
    }

    /// Deletes the manifest `reference`'s digest names (registries delete by digest only).
    public func deleteManifest(_ reference: Reference) async throws {
        let context = Self.context(reference, "deleting manifest")
        guard let digest = reference.digest else {
            throw OCIError.invalidReference(reference.description, reason: "deleting a manifest needs its digest")
        }
        var request = RegistryRequest(.delete, "/v2/\(reference.repository)/manifests/\(digest)",
                                      registry: reference.registry, context: context)
        request.scopes = ["repository:\(reference.repository):delete", Self.pushScope(reference.repository)]
        _ = try await send(request)
    }

    func startUpload(_ repository: Reference, digest: Digest) async throws -> String {
        let context = Self.context(repository, "starting blob upload", reference: digest.description)
        var request = RegistryRequest(.post, "/v2/\(repository.repository)/blobs/uploads/",
                                      registry: repository.registry, context: context)
        request.scopes = [Self.pushScope(repository.repository)]
        let response = try await send(request)
        guard let location = response.headers["Location"] else {
            throw RegistryError.invalidResponse(context, reason: "HTTP \(response.status) without a Location header")
        }
        return location
    }

    /// Uploads a blob's bytes in one `PUT` to `uploadLocation`, or to a session opened for
    /// it; a session whose upload failed is cancelled (`DELETE`), never left open: the caller
    /// (``ImageCopier/place``) retries with a new one.
    func upload(_ body: RequestBody, digest: Digest, to repository: Reference, uploadLocation: String?) async throws {
        let location: String
        if let uploadLocation { location = uploadLocation } else { location = try await startUpload(repository, digest: digest) }
        do {
            try await completeUpload(location, repository: repository, digest: digest, body: body)
        } catch {
            await cancelUpload(
                location, registry: repository.registry,
                context: Self.context(repository, "uploading blob", reference: digest.description))
            throw error
        }
    }

    /// Closes an upload session with `PUT …?digest=`: the registry checks the digest and
    /// commits the blob.
    func completeUpload(_ location: String, repository: Reference, digest: Digest, body: RequestBody)
        async throws
    {
        let context = Self.context(repository, "uploading blob", reference: digest.description)
        var request = RegistryRequest(.put, location, registry: repository.registry, context: context)
        request.query = [("digest", digest.description)]
        request.headers.set("Content-Type", "application/octet-stream")
        request.body = body
        request.scopes = [Self.pushScope(repository.repository)]
        _ = try await send(request)
    }

    /// Abandons an upload session; failures are only logged, the registry expires it anyway.
    func cancelUpload(_ location: String, registry: String, context: RegistryErrorContext) async {
        var request = RegistryRequest(.delete, location, registry: registry, context: context)
        request.scopes = context.repository.map { [Self.pushScope($0)] } ?? []
        request.allowedStatuses = [404]
        do {
            _ = try await send(request)
        } catch {
            logger.debug("could not cancel upload", metadata: ["target": "\(context)", "error": "\(error)"])
        }
    }
}
