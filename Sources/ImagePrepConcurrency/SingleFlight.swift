/// One computation per key, shared: callers asking for a key while its computation runs
/// wait for that one instead of starting another, and later callers get the value it gave.
/// The project's one single-flight cache (endpoints, tokens, destinations, tag lookups,
/// package inventories).
///
/// What a failure means is stated when the cache is made (``FailurePolicy``); a value may
/// also be refused for reuse (an expired token) and computed again.
public final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    public enum FailurePolicy: Sendable {
        /// The failure is the key's answer for the rest of the run: asking again would fail
        /// the same way or make the run inconsistent (a tag list, a layer read).
        case keepForTheRun
        /// The callers waiting for the computation share its failure; the next caller
        /// computes again (a probe or a login that a retry may get through).
        case computeAgain
    }

    private enum State {
        case running(Task<Value, any Error>, id: UInt64)
        case done(Value)
        case failed(any Error)
    }

    private struct Entries {
        var states: [Key: State] = [:]
        var nextID: UInt64 = 0
    }

    private let entries = Locked(Entries())
    public let failurePolicy: FailurePolicy

    public init(onFailure failurePolicy: FailurePolicy) {
        self.failurePolicy = failurePolicy
    }

    /// The key's value: the one computed before (if `isReusable` accepts it), the one being
    /// computed, or the result of `compute`, started now.
    public func value(
        for key: Key, reusing isReusable: (Value) -> Bool = { _ in true },
        compute: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let (task, id): (Task<Value, any Error>, UInt64)
        switch flight(for: key, reusing: isReusable, compute: compute) {
        case .done(let value): return value
        case .failed(let error): throw error
        case .running(let running, let runningID): (task, id) = (running, runningID)
        }
        let result = await task.result
        entries.withLock { entries in
            guard case .running(_, let current) = entries.states[key], current == id else { return }
            switch result {
            case .success(let value): entries.states[key] = .done(value)
            case .failure(let error): entries.states[key] = failurePolicy == .keepForTheRun ? .failed(error) : nil
            }
        }
        return try result.get()
    }

    /// Under the lock: the key's reusable value or kept failure, or its running computation
    /// (started now when there is none).
    private func flight(
        for key: Key, reusing isReusable: (Value) -> Bool, compute: @escaping @Sendable () async throws -> Value
    ) -> State {
        entries.withLock { entries in
            switch entries.states[key] {
            case .done(let value) where isReusable(value): return .done(value)
            case .failed(let error): return .failed(error)
            case .running(let task, let id): return .running(task, id: id)
            case .done, nil:
                entries.nextID += 1
                let state = State.running(Task { try await compute() }, id: entries.nextID)
                entries.states[key] = state
                return state
            }
        }
    }

    /// The value computed for `key`, if its computation succeeded.
    public func computed(_ key: Key) -> Value? {
        entries.withLock { entries in
            if case .done(let value) = entries.states[key] { return value }
            return nil
        }
    }

    /// Every value computed so far, by key.
    public func computedValues() -> [Key: Value] {
        entries.withLock { entries in
            entries.states.compactMapValues { state in
                if case .done(let value) = state { return value }
                return nil
            }
        }
    }

    /// Changes the value computed for `key`, if there is one.
    public func update(_ key: Key, _ body: (inout Value) -> Void) {
        entries.withLock { entries in
            guard case .done(var value) = entries.states[key] else { return }
            body(&value)
            entries.states[key] = .done(value)
        }
    }

    /// Forgets `key`'s value or failure; the next caller computes again. A running
    /// computation is left to its waiters.
    public func forget(_ key: Key) {
        entries.withLock { entries in
            if case .running = entries.states[key] { return }
            entries.states[key] = nil
        }
    }
}
