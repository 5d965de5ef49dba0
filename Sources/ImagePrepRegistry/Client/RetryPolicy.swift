import Foundation
import ImagePrepConcurrency

/// When and how long to wait before repeating a request that failed transiently: connection
/// errors, 429 (honouring `Retry-After`) and 502/503/504.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var initialDelay: Duration
    public var maxDelay: Duration
    /// The longest `Retry-After` that is waited for; a longer one is cut to this.
    public var maxRetryAfter: Duration

    public init(
        maxAttempts: Int = 5,
        initialDelay: Duration = .milliseconds(500),
        maxDelay: Duration = .seconds(15),
        maxRetryAfter: Duration = .seconds(60)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    public static let none = RetryPolicy(maxAttempts: 1)

    static let retryableStatuses: Set<Int> = [429, 502, 503, 504]

    /// The capped exponential backoff before attempt `attempt + 1`.
    func backoff(afterAttempt attempt: Int) -> Duration {
        let factor = 1 << min(max(attempt - 1, 0), 20)
        return min(initialDelay * factor, maxDelay)
    }

    /// The wait a response asks for with `Retry-After` (seconds or an HTTP date), capped.
    func retryAfter(_ header: String?, now: Date = Date()) -> Duration? {
        guard let header = header?.trimmingCharacters(in: .whitespaces), !header.isEmpty else { return nil }
        var wait: Duration?
        if let seconds = Int(header) {
            wait = .seconds(max(0, seconds))
        } else {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
            if let date = formatter.date(from: header) {
                wait = .milliseconds(max(0, Int(date.timeIntervalSince(now) * 1000)))
            }
        }
        return wait.map { min($0, maxRetryAfter) }
    }
}

/// What one attempt of an operation run by ``RetryPolicy/run(_:)`` came to.
enum RetryStep<Value> {
    /// Finished: this is the result.
    case done(Value)
    /// Failed transiently: tried again after `delay` (nil: the policy's backoff) while
    /// attempts remain, else `failure` is thrown.
    case retry(after: Duration? = nil, failure: any Error)
    /// Tried again at once, whatever the attempts left (a bearer token renewed after a 401).
    case again
}

/// The attempts one operation has made, shared by the retry loops nested in it: a blob
/// transfer retried whole (``ImageCopier``) and the resumed downloads inside each of its
/// attempts draw on one budget of ``RetryPolicy/maxAttempts``, so a source that keeps
/// cutting the connection is given up after that many requests, not its square.
public final class RetryBudget: Sendable {
    /// The number of the attempt in progress; 0 before the first.
    private let number = Locked(0)

    public init() {}

    /// The attempt in progress: a loop nested in an attempt continues it (the first request
    /// of a resumable download is part of the transfer's attempt, not a new one).
    func begin() -> Int { number.withLock { $0 = max($0, 1); return $0 } }

    /// The number of the next attempt, which starts now.
    func advance() -> Int { number.withLock { $0 += 1; return $0 } }

    /// The attempt in progress, as a nested loop may have moved it on.
    var current: Int { number.withLock { max($0, 1) } }
}

extension RetryPolicy {
    /// Runs `attempt` (given its number, from 1) until it is done, throws, or has failed
    /// transiently `maxAttempts` times; waits between attempts as each asks. The one retry
    /// loop of the registry client: requests, endpoint pings, token requests, whole blob
    /// transfers and resumed blob downloads all go through it. With a `budget`, the attempts
    /// are counted there, together with those of the loops that share it.
    func run<Value>(budget shared: RetryBudget? = nil, _ attempt: (_ number: Int) async throws -> RetryStep<Value>)
        async throws -> Value
    {
        let budget = shared ?? RetryBudget()
        var number = budget.begin()
        while true {
            switch try await attempt(number) {
            case .done(let value):
                return value
            case .again:
                number = budget.advance()
            case .retry(let delay, let failure):
                // A loop nested in this attempt may have used attempts of the budget.
                number = budget.current
                guard number < maxAttempts else { throw failure }
                do {
                    try await Task.sleep(for: delay ?? backoff(afterAttempt: number))
                } catch {
                    throw RegistryError.cancelled
                }
                number = budget.advance()
            }
        }
    }

    /// Whether attempt `number` is the last one the policy allows.
    func isLast(_ number: Int) -> Bool { number >= maxAttempts }
}
