import Foundation
import ImagePrepConcurrency

/// Bearer tokens per registry and scope set, kept until shortly before they expire;
/// concurrent requests for the same key share one fetch, and a failed fetch is tried again
/// by the next request.
struct TokenCache: Sendable {
    struct Key: Hashable, Sendable {
        var registry: String
        var scopes: [String]
    }

    private struct Entry: Sendable {
        var token: String
        var expires: Date
    }

    private let flights = SingleFlight<Key, Entry>(onFailure: .computeAgain)

    /// A cached token that has not expired, or the result of `fetch`.
    func token(
        for key: Key,
        fetch: @escaping @Sendable () async throws -> (token: String, lifetime: TimeInterval)
    ) async throws -> String {
        try await flights.value(for: key, reusing: { $0.expires > Date() }) {
            let (token, lifetime) = try await fetch()
            // Refresh a little early so a token does not expire in flight.
            let margin = min(30, lifetime / 5)
            return Entry(token: token, expires: Date().addingTimeInterval(lifetime - margin))
        }.token
    }

    func invalidate(_ key: Key) {
        flights.forget(key)
    }
}
