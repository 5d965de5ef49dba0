import Foundation

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
