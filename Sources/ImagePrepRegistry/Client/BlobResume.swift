import ImagePrepConcurrency
import ImagePrepOCI

/// What lets a blob download that was cut (a reset, a stall) continue from the first byte
/// it lacks instead of starting over: the bytes already handed to the body writer, and
/// whether the source said it serves ranges of this blob (`Accept-Ranges: bytes`) and how the
/// rest is known to be the same blob. ``RegistryClient/send(_:)`` makes each attempt of the
/// request a `Range: bytes=N-` request once bytes were received, and hands a body on to the
/// writer only when the answer is `206` with `Content-Range: bytes N-(size-1)/size`; any other
/// answer is ``RegistryError/rangeRefused(_:reason:)``, which the whole transfer's retry
/// answers by fetching the blob again from its first byte. The bytes are hashed as they flow
/// (the caller's ``BlobVerifier``), so the digest checked at the end is the whole blob's.
///
/// The guard against splicing two different blobs: `If-Range` with the first answer's strong
/// `ETag` (a source whose blob changed answers `200` with all of it, which is refused), and
/// the `ETag` and `Docker-Content-Digest` of the `206` compared with the first answer's and
/// the descriptor's. A source that sends neither a strong `ETag` nor the blob's digest is not
/// resumed.
final class BlobResume: Sendable {
    private struct State {
        /// Bytes handed to the writer.
        var received: Int64 = 0
        /// Where the attempt in flight asked its body to start.
        var requestedFrom: Int64 = 0
        var acceptsRanges = false
        /// The first answer's strong `ETag`, as sent.
        var entityTag: String?
        /// Whether the first answer named the descriptor's digest (`Docker-Content-Digest`).
        var namedDigest = false
    }

    let descriptor: Descriptor
    let context: RegistryErrorContext
    private let state = Locked(State())

    init(descriptor: Descriptor, context: RegistryErrorContext) {
        self.descriptor = descriptor
        self.context = context
    }

    /// Bytes handed to the writer so far.
    var received: Int64 { state.withLock { $0.received } }

    /// Whether a cut body can be continued by another attempt: nothing was written yet, or
    /// the source serves ranges of a blob it identified and some of it is still missing.
    var canContinue: Bool {
        state.withLock { state in
            state.received == 0
                || (state.acceptsRanges && (state.entityTag != nil || state.namedDigest) && state.received < descriptor.size)
        }
    }

    /// Makes `http` the next attempt: from the first byte not yet received, guarded by the
    /// first answer's `ETag`; its body counted on the way to the writer.
    func prepare(_ http: inout HTTPRequest) {
        let (from, entityTag) = state.withLock { state in
            state.requestedFrom = state.received
            return (state.received, state.entityTag)
        }
        if from > 0 {
            http.headers.set("Range", "bytes=\(from)-")
            if let entityTag { http.headers.set("If-Range", entityTag) }
            http.maxStreamedBody = descriptor.size.addingSaturated(-from)
        }
        http.responseCheck = { [self] status, headers in try check(status: status, headers: headers) }
        if let writer = http.bodyWriter {
            http.bodyWriter = { [self] bytes in
                try writer(bytes)
                state.withLock { $0.received += Int64(bytes.count) }
            }
        }
    }

    /// The refusal of a resumed attempt's error status: a `416` (the range is not there).
    func refusal(status: Int) -> RegistryError? {
        let from = state.withLock { $0.requestedFrom }
        guard from > 0, status == 416 else { return nil }
        return refused(from, "it answered HTTP 416 (range not satisfiable)")
    }

    /// Before a 2xx body reaches the writer: the first answer's headers tell whether it may
    /// be resumed; a resumed attempt's must be the rest of the same blob.
    private func check(status: Int, headers: HTTPHeaders) throws {
        let digest = headers["Docker-Content-Digest"]
        let from = state.withLock { $0.requestedFrom }
        guard from > 0 else {
            let acceptsRanges = headers.values("Accept-Ranges").contains { value in
                value.split(separator: ",").contains { CurlTransferContext.trimmingHTTPWhitespace($0).lowercased() == "bytes" }
            }
            // A weak tag (`W/"…"`) cannot guard a range (RFC 9110 §13.1.5).
            let entityTag = headers["ETag"].flatMap { $0.hasPrefix("\"") && $0.hasSuffix("\"") && $0.count > 1 ? $0 : nil }
            state.withLock { state in
                state.acceptsRanges = acceptsRanges
                state.entityTag = entityTag
                state.namedDigest = digest == descriptor.digest.description
            }
            return
        }
        let entityTag = state.withLock { $0.entityTag }
        guard status == 206 else {
            throw refused(from, "it answered HTTP \(status) to `Range: bytes=\(from)-`"
                + (entityTag == nil ? "" : " with `If-Range: \(entityTag!)` (the blob changed, or ranges are not served)"))
        }
        guard let header = headers["Content-Range"] else {
            throw refused(from, "its HTTP 206 has no Content-Range")
        }
        guard let range = ContentRange(header), range.continues(at: from, size: descriptor.size) else {
            throw refused(from, "its Content-Range '\(header)' is not bytes \(from)-\(descriptor.size.addingSaturated(-1))/\(descriptor.size)")
        }
        if let entityTag, let now = headers["ETag"], now != entityTag {
            throw refused(from, "its ETag changed from \(entityTag) to \(now)")
        }
        if let digest, digest != descriptor.digest.description {
            throw refused(from, "it names the range's blob \(digest)")
        }
    }

    private func refused(_ from: Int64, _ reason: String) -> RegistryError {
        .rangeRefused(context, reason: "the blob could not be continued at byte \(from) of \(descriptor.size): \(reason)")
    }
}
