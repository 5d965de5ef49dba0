import Foundation
import Logging

/// One call to the registry API, before authentication and retries are applied.
struct RegistryRequest: Sendable {
    var method: HTTPMethod
    var registry: String
    /// A path such as `/v2/NAME/manifests/TAG`, or an absolute URL from a `Location` header.
    var target: String
    var query: [(name: String, value: String)] = []
    var headers = HTTPHeaders()
    var body: RequestBody = .empty
    /// Token scopes the request needs, e.g. `repository:NAME:pull`.
    var scopes: [String] = []
    var context: RegistryErrorContext
    var followRedirects = false
    var bodyWriter: BodyWriter?
    var maxCollectedBody = 16 * 1024 * 1024
    /// The size of the body `bodyWriter` takes (a blob's), which bounds the request's deadline.
    var maxStreamedBody: Int64?
    /// Statuses outside 2xx returned to the caller instead of thrown (404 for a HEAD).
    var allowedStatuses: Set<Int> = []
    var lease: CurlTransport.Lease?
    /// A streamed blob body that another attempt continues where a cut one stopped.
    var resume: BlobResume?
    /// The budget the request's attempts count against, shared with the operation it is part
    /// of (a blob transfer's whole retries); nil: its own.
    var attempts: RetryBudget?

    init(_ method: HTTPMethod, _ target: String, registry: String, context: RegistryErrorContext) {
        self.method = method
        self.target = target
        self.registry = registry
        self.context = context
    }

    /// Only requests whose whole body can be sent again and whose response is collected
    /// (not streamed to a writer) are retried after a connection error: part of the body may
    /// already have reached the writer.
    var isReplayable: Bool { body.isReplayable && bodyWriter == nil }

    /// Whether another attempt may follow a connection error or a stall: a replayable
    /// request, or a blob download that continues where the body stopped.
    var canContinueAfterConnectionError: Bool {
        isReplayable || (body.isReplayable && resume?.canContinue == true)
    }

    /// Whether the request can be sent again after an error status (401, 429, 5xx): only a
    /// 2xx body is handed to the writer, so an error answer has written nothing and only the
    /// request body matters.
    var isReplayableAfterErrorStatus: Bool { body.isReplayable }
}

extension RegistryClient {
    static func pullScope(_ repository: String) -> String { "repository:\(repository):pull" }
    static func pushScope(_ repository: String) -> String { "repository:\(repository):pull,push" }

    /// Sends `request` with authentication, retrying transient failures; throws a
    /// `RegistryError` for any status outside 2xx and `allowedStatuses`.
    func send(_ request: RegistryRequest) async throws -> HTTPResponse {
        try await breaker.check(request.registry, context: request.context)
        var endpoint = try await endpoint(for: request.registry, context: request.context)
        let policy = configuration.retry
        var renewedToken = false
        return try await policy.run(budget: request.attempts) { attempt in
            if Task.isCancelled { throw RegistryError.cancelled }
            let http = try await httpRequest(for: request, endpoint: endpoint)
            let response: HTTPResponse
            do {
                response = try await transport.perform(http, slot: request.lease.map { .leased($0) } ?? .acquire)
            } catch let error as TransportError {
                return try await afterTransportError(error, of: request, attempt: attempt, policy: policy)
            }

            if response.status == 401, !renewedToken, request.isReplayableAfterErrorStatus,
               case .bearer = endpoint.challenge
            {
                // The token may have expired or lack a scope: get a fresh one once.
                renewedToken = true
                if let challenge = Self.challenge(in: response.headers) {
                    endpoint.challenge = challenge
                    endpoints.update(request.registry, challenge: challenge)
                }
                tokens.invalidate(TokenCache.Key(registry: request.registry, scopes: request.scopes.sorted()))
                return .again
            }
            if RetryPolicy.retryableStatuses.contains(response.status), request.isReplayableAfterErrorStatus,
               !policy.isLast(attempt)
            {
                let delay = policy.retryAfter(response.headers["Retry-After"]) ?? policy.backoff(afterAttempt: attempt)
                logger.info("retrying after HTTP \(response.status)", metadata: [
                    "target": "\(request.context)", "delay": "\(delay)", "attempt": "\(attempt)",
                ])
                return .retry(after: delay, failure: statusError(response, context: request.context))
            }
            if response.isSuccess || request.allowedStatuses.contains(response.status) {
                return .done(response)
            }
            if let refusal = request.resume?.refusal(status: response.status) { throw refusal }
            throw statusError(response, context: request.context)
        }
    }

    /// The request as the transport sends it to `endpoint`: its URL, TLS, body and headers,
    /// and the registry's authorization when the URL is the registry's own origin.
    private func httpRequest(for request: RegistryRequest, endpoint: Endpoint) async throws -> HTTPRequest {
        var http = HTTPRequest(method: request.method, url: try url(for: request, base: endpoint.baseURL))
        http.tls = endpoint.tls
        http.followRedirects = request.followRedirects
        http.body = request.body
        http.bodyWriter = request.bodyWriter
        http.maxCollectedBody = request.maxCollectedBody
        http.maxStreamedBody = request.maxStreamedBody
        http.headers = request.headers
        http.headers.set("User-Agent", configuration.userAgent)
        request.resume?.prepare(&http)
        // Credentials go to the registry's own origin only: an absolute `Location` or
        // `Link` URL naming another host, port or scheme gets none.
        if Self.sameOrigin(http.url, endpoint.baseURL),
           let authorization = try await authorization(for: request, endpoint: endpoint)
        {
            http.headers.set("Authorization", authorization)
        }
        return http
    }

    /// What follows a transport failure of `request`: another attempt for a connection error
    /// or a stall the request can continue after, else the failure (a registry that failed
    /// every attempt trips the run's breaker).
    private func afterTransportError(
        _ error: TransportError, of request: RegistryRequest, attempt: Int, policy: RetryPolicy
    ) async throws -> RetryStep<HTTPResponse> {
        // The body writer's own failure (a full disk under image-serve) is not the
        // registry's: it goes to the caller as it was. An answer over its cap is the
        // registry's, and is reported as such.
        if case .body(let underlying) = error.kind, !(underlying is RegistryError), !(underlying is ResponseTooLarge) {
            throw underlying
        }
        let failure = Self.registryError(error, context: request.context)
        if error.isRetryable, request.canContinueAfterConnectionError, !policy.isLast(attempt) {
            var metadata: Logger.Metadata = [
                "target": "\(request.context)", "error": "\(error.message)", "attempt": "\(attempt)",
            ]
            if let received = request.resume?.received, received > 0 { metadata["resumeAt"] = "\(received)" }
            logger.info("retrying after connection error", metadata: metadata)
            return .retry(failure: failure)
        }
        if error.isRetryable, attempt == policy.maxAttempts {
            await breaker.trip(request.registry, after: failure)
        }
        throw failure
    }

    /// Whether `url` has `base`'s scheme, host and port (the default port spelled out or not).
    static func sameOrigin(_ url: URL, _ base: URL) -> Bool {
        func origin(_ url: URL) -> (String, String, Int)? {
            guard let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else { return nil }
            return (scheme, host, url.port ?? (scheme == "https" ? 443 : 80))
        }
        guard let a = origin(url), let b = origin(base) else { return false }
        return a == b
    }

    func url(for request: RegistryRequest, base: URL) throws -> URL {
        guard let resolved = URL(string: request.target, relativeTo: base)?.absoluteURL,
              var components = URLComponents(url: resolved, resolvingAgainstBaseURL: false)
        else {
            throw RegistryError.invalidResponse(request.context, reason: "cannot form a URL from '\(request.target)'")
        }
        if !request.query.isEmpty {
            let added = request.query.map { "\(Self.percentEncode($0.name))=\(Self.percentEncode($0.value))" }
            let existing = components.percentEncodedQuery.map { [$0] } ?? []
            components.percentEncodedQuery = (existing + added).joined(separator: "&")
        }
        guard let url = components.url else {
            throw RegistryError.invalidResponse(request.context, reason: "cannot form a URL from '\(request.target)'")
        }
        return url
    }

    func statusError(_ response: HTTPResponse, context: RegistryErrorContext) -> RegistryError {
        let message = RegistryError.serverMessage(from: response.body)
        switch response.status {
        case 401, 403:
            let user = configuration.credentials.credentials(registry: context.registry, repository: context.repository)
            return .unauthorized(context, status: response.status, user: user?.username, serverMessage: message)
        case 404:
            return .notFound(context, serverMessage: message)
        default:
            return .http(context, status: response.status, serverMessage: message)
        }
    }

    static func registryError(_ error: TransportError, context: RegistryErrorContext) -> RegistryError {
        switch error.kind {
        case .tls:
            return .tls(context, message: error.message)
        case .connection, .timeout, .other:
            return .connection(context, message: error.message)
        case .cancelled:
            return .cancelled
        case .body(let underlying):
            if let registryError = underlying as? RegistryError { return registryError }
            return .invalidResponse(context, reason: "\(underlying)")
        }
    }

    static func challenge(in headers: HTTPHeaders) -> AuthChallenge? {
        let challenges = headers.values("WWW-Authenticate").compactMap(AuthChallenge.init(header:))
        return challenges.first { if case .bearer = $0 { true } else { false } } ?? challenges.first
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:,/*")

    static func percentEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }
}
