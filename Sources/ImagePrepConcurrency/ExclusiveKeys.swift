/// Runs bodies one at a time per key, and concurrently across keys: one writer at a time
/// for a shared directory (a `yum_cache` two builds would otherwise fill at once).
public actor ExclusiveKeys {
    private var limiters: [String: ConcurrencyLimiter] = [:]

    public init() {}

    private func limiter(for key: String) -> ConcurrencyLimiter {
        if let limiter = limiters[key] { return limiter }
        let limiter = ConcurrencyLimiter(limit: 1)
        limiters[key] = limiter
        return limiter
    }

    /// Runs `body` alone among the bodies holding `key`; with no key, at once.
    public nonisolated func withExclusive<Value>(_ key: String?, _ body: () async throws -> Value) async rethrows -> Value {
        guard let key else { return try await body() }
        return try await limiter(for: key).withSlots(1, body)
    }
}
