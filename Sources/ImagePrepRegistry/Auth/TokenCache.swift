import Foundation

/// Bearer tokens per registry and scope set, kept until shortly before they expire.
actor TokenCache {
    struct Key: Hashable {
        var registry: String
        var scopes: [String]
    }

    private struct Entry {
        var token: String
        var expires: Date
    }

    private var entries: [Key: Entry] = [:]
    private var pending: [Key: Task<String, any Error>] = [:]

    /// A cached token, or the result of `fetch`; concurrent callers for the same key share
    /// one fetch.
    func token(
        for key: Key,
        fetch: @escaping @Sendable () async throws -> (token: String, lifetime: TimeInterval)
    ) async throws -> String {
        if let entry = entries[key], entry.expires > Date() { return entry.token }
        if let task = pending[key] { return try await task.value }
        let task = Task<String, any Error> {
            let (token, lifetime) = try await fetch()
            // Refresh a little early so a token does not expire in flight.
            store(token, lifetime: lifetime, for: key)
            return token
        }
        pending[key] = task
        defer { pending[key] = nil }
        return try await task.value
    }

    func invalidate(_ key: Key) {
        entries[key] = nil
    }

    private func store(_ token: String, lifetime: TimeInterval, for key: Key) {
        let margin = min(30, lifetime / 5)
        entries[key] = Entry(token: token, expires: Date().addingTimeInterval(lifetime - margin))
    }
}
