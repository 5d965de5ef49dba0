/// Hands out at most `limit` slots; waiters are served in order. The registry client's
/// transport bounds its requests with one, `modify` its buildah builds.
public actor ConcurrencyLimiter {
    private let limit: Int
    private var inUse = 0
    private var waiters: [(slots: Int, continuation: CheckedContinuation<Void, Never>)] = []

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    public func acquire(_ slots: Int = 1) async {
        let slots = min(slots, limit)
        if waiters.isEmpty && inUse + slots <= limit {
            inUse += slots
            return
        }
        await withCheckedContinuation { waiters.append((slots, $0)) }
    }

    public func release(_ slots: Int = 1) {
        inUse -= min(slots, limit)
        while let next = waiters.first, inUse + next.slots <= limit {
            waiters.removeFirst()
            inUse += next.slots
            next.continuation.resume()
        }
    }

    /// Runs `body` holding `slots` slots, released when it returns or throws.
    public nonisolated func withSlots<Value>(_ slots: Int = 1, _ body: () async throws -> Value) async rethrows -> Value {
        await acquire(slots)
        do {
            let value = try await body()
            await release(slots)
            return value
        } catch {
            await release(slots)
            throw error
        }
    }
}
