import Foundation
import ImagePrepOCI
import Logging

extension RegistryClient {
    /// How `registry` is reached, found once per client by `GET /v2/`: HTTPS with verified
    /// TLS, or for an insecure registry HTTPS without verification and then plain HTTP.
    func endpoint(for registry: String, context: RegistryErrorContext) async throws -> Endpoint {
        try await breaker.check(registry, context: context)
        do {
            return try await endpoints.endpoint(for: registry) {
                do {
                    return try await self.discoverEndpoint(registry, context: context)
                } catch let error as RegistryError {
                    await self.breaker.trip(registry, after: error)
                    throw error
                }
            }
        } catch let error as RegistryError {
            // The probe is shared by the requests waiting for it: its failure is told for
            // this request, not the one that started it.
            throw error.retold(for: context)
        }
    }

    private func discoverEndpoint(_ registry: String, context: RegistryErrorContext) async throws -> Endpoint {
        let candidates: [(scheme: String, tls: TLSPolicy)] = isInsecure(registry)
            ? [("https", .skipVerification), ("http", .skipVerification)]
            : [("https", .verify(caFile: configuration.caFile))]
        var lastError: RegistryError?
        candidateLoop: for (index, candidate) in candidates.enumerated() {
            guard let base = URL(string: "\(candidate.scheme)://\(registry)/") else {
                throw OCIError.invalidReference(registry, reason: "not a valid registry address")
            }
            var request = HTTPRequest(method: .get, url: base.appendingPathComponent("v2/"))
            request.tls = candidate.tls
            request.headers.set("User-Agent", configuration.userAgent)
            request.maxCollectedBody = 64 * 1024
            let retry = configuration.retry
            let found: Endpoint? = try await retry.run { _ in
                let response: HTTPResponse
                do {
                    response = try await transport.perform(request, slot: .unlimited)
                } catch let error as TransportError {
                    let failure = Self.registryError(error, context: context)
                    lastError = failure
                    // Insecure: on to plain HTTP.
                    if index < candidates.count - 1 { return .done(nil) }
                    if error.isRetryable { return .retry(failure: failure) }
                    throw failure
                }
                switch response.status {
                case 200..<300:
                    return .done(Endpoint(baseURL: base, tls: candidate.tls, challenge: nil))
                case 401:
                    return .done(Endpoint(baseURL: base, tls: candidate.tls, challenge: Self.challenge(in: response.headers)))
                default:
                    let message = RegistryError.serverMessage(from: response.body)
                    let failure = RegistryError.http(context, status: response.status,
                                                     serverMessage: message ?? "\(base)v2/ does not answer like a registry")
                    if RetryPolicy.retryableStatuses.contains(response.status) {
                        return .retry(after: retry.retryAfter(response.headers["Retry-After"]), failure: failure)
                    }
                    throw failure
                }
            }
            if let found { return found }
        }
        throw lastError ?? RegistryError.connection(context, message: "no way to reach the registry")
    }

    /// The `Authorization` value for `request`, or nil to go anonymous.
    func authorization(for request: RegistryRequest, endpoint: Endpoint) async throws -> String? {
        let credentials = configuration.credentials.credentials(
            registry: request.registry, repository: request.context.repository)
        switch endpoint.challenge {
        case nil:
            return nil
        case .basic:
            return credentials?.basicAuthorization
        case .bearer(let realm, let service, _):
            let scopes = request.scopes.sorted()
            let key = TokenCache.Key(registry: request.registry, scopes: scopes)
            let token = try await tokens.token(for: key) {
                try await self.fetchToken(realm: realm, service: service, scopes: scopes,
                                          credentials: credentials, registry: request.registry,
                                          context: request.context)
            }
            return "Bearer \(token)"
        }
    }

    private func fetchToken(
        realm: String,
        service: String?,
        scopes: [String],
        credentials: Credentials?,
        registry: String,
        context: RegistryErrorContext
    ) async throws -> (token: String, lifetime: TimeInterval) {
        let request = try tokenRequest(
            realm: realm, service: service, scopes: scopes, credentials: credentials, registry: registry, context: context)
        let retry = configuration.retry
        let response: HTTPResponse = try await retry.run { _ in
            let response: HTTPResponse
            do {
                response = try await transport.perform(request, slot: .unlimited)
            } catch let error as TransportError {
                let failure = RegistryError.tokenRequestFailed(context, realm: realm, status: nil, message: error.message)
                if error.isRetryable { return .retry(failure: failure) }
                throw failure
            }
            if RetryPolicy.retryableStatuses.contains(response.status) {
                return .retry(after: retry.retryAfter(response.headers["Retry-After"]),
                              failure: RegistryError.tokenRequestFailed(
                                  context, realm: realm, status: response.status,
                                  message: RegistryError.serverMessage(from: response.body) ?? "no details"))
            }
            return .done(response)
        }
        if response.status == 401 || response.status == 403 {
            throw RegistryError.unauthorized(context, status: response.status, user: credentials?.username,
                                             serverMessage: RegistryError.serverMessage(from: response.body))
        }
        guard response.isSuccess else {
            throw RegistryError.tokenRequestFailed(context, realm: realm, status: response.status,
                                                   message: RegistryError.serverMessage(from: response.body) ?? "no details")
        }
        return try Self.token(in: response, realm: realm, context: context)
    }

    /// The token request to `realm`: an http(s) URL (plain HTTP only for a realm or registry
    /// marked insecure) with the service and scopes, and the credentials as Basic auth.
    private func tokenRequest(
        realm: String, service: String?, scopes: [String], credentials: Credentials?, registry: String,
        context: RegistryErrorContext
    ) throws -> HTTPRequest {
        guard var components = URLComponents(string: realm), let scheme = components.scheme?.lowercased(),
              scheme == "https" || scheme == "http", let host = components.host
        else {
            throw RegistryError.tokenRequestFailed(context, realm: realm, status: nil, message: "the realm is not an http(s) URL")
        }
        let realmAddress = components.port.map { "\(host):\($0)" } ?? host
        let insecure = isInsecure(realmAddress) || isInsecure(registry)
        if scheme == "http" && !insecure {
            throw RegistryError.tokenRequestFailed(
                context, realm: realm, status: nil,
                message: "the token service uses plain HTTP; mark \(realmAddress) insecure to allow it")
        }
        var items = components.percentEncodedQueryItems ?? []
        if let service { items.append(URLQueryItem(name: "service", value: Self.percentEncode(service))) }
        for scope in scopes { items.append(URLQueryItem(name: "scope", value: Self.percentEncode(scope))) }
        components.percentEncodedQueryItems = items.isEmpty ? nil : items
        guard let url = components.url else {
            throw RegistryError.tokenRequestFailed(context, realm: realm, status: nil, message: "cannot form the token URL")
        }
        var request = HTTPRequest(method: .get, url: url)
        request.tls = insecure ? .skipVerification : .verify(caFile: configuration.caFile)
        request.headers.set("User-Agent", configuration.userAgent)
        if let credentials { request.headers.set("Authorization", credentials.basicAuthorization) }
        request.maxCollectedBody = 1024 * 1024
        return request
    }

    /// The token and its lifetime in a token service's answer (`token` or `access_token`;
    /// the distribution spec's default lifetime is 60 seconds).
    private static func token(
        in response: HTTPResponse, realm: String, context: RegistryErrorContext
    ) throws -> (token: String, lifetime: TimeInterval) {
        struct TokenResponse: Decodable {
            var token: String?
            var accessToken: String?
            var expiresIn: Int?
            enum CodingKeys: String, CodingKey {
                case token
                case accessToken = "access_token"
                case expiresIn = "expires_in"
            }
        }
        guard let decoded = try? JSONDecoder().decode(TokenResponse.self, from: response.body),
              let token = decoded.token ?? decoded.accessToken, !token.isEmpty
        else {
            throw RegistryError.tokenRequestFailed(context, realm: realm, status: response.status,
                                                   message: "the answer has no token")
        }
        return (token, TimeInterval(max(decoded.expiresIn ?? 60, 1)))
    }
}
