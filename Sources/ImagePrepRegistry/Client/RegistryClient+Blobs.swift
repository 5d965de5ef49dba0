import ImagePrepConcurrency
import Foundation
import ImagePrepOCI

extension RegistryClient {
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
