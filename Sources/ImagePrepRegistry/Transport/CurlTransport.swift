import CCurl
import Foundation
import ImagePrepConcurrency

/// Runs HTTP requests through libcurl. libcurl's easy API blocks, so each request runs on a
/// thread of its own while the caller awaits; a limiter bounds how many run at once, and
/// finished handles go back to a pool so their connections are reused.
final class CurlTransport: Sendable {
    /// Slots already taken from the limiter, for operations that need several requests in
    /// flight together (a blob streamed from one registry into another).
    struct Lease: Sendable {
        fileprivate let slots: Int
    }

    private static let globalState: Void = {
        let code = imageprep_curl_global_init()
        precondition(code == CURLE_OK, "curl_global_init failed: \(code.rawValue)")
    }()

    static func initializeGlobalState() {
        _ = globalState
    }

    private let idleHandles = Locked<[CurlEasyHandle]>([])
    private let maxIdleHandles: Int
    private let limiter: ConcurrencyLimiter
    private let timeouts: TransferTimeouts

    init(maxConcurrentRequests: Int = 8, timeouts: TransferTimeouts = TransferTimeouts()) {
        Self.initializeGlobalState()
        self.timeouts = timeouts
        maxIdleHandles = max(1, maxConcurrentRequests)
        limiter = ConcurrencyLimiter(limit: maxConcurrentRequests)
    }

    /// Runs `body` holding `slots` slots of the limiter, for requests it sends in them together.
    func withLease<Value>(slots: Int, _ body: (Lease) async throws -> Value) async rethrows -> Value {
        try await limiter.withSlots(slots) { try await body(Lease(slots: slots)) }
    }

    /// Which limiter slot a request runs in.
    enum Slot: Sendable {
        /// Wait for a slot of its own.
        case acquire
        /// A slot the caller already holds.
        case leased(Lease)
        /// No slot: for the few small requests that transfers wait on (endpoint pings and
        /// token requests, each shared by every caller that needs it). Were they to queue
        /// for a slot, transfers holding every slot while waiting for a token would never
        /// get one.
        case unlimited
    }

    /// Performs `request` in `slot`.
    func perform(_ request: HTTPRequest, slot: Slot = .acquire) async throws -> HTTPResponse {
        guard case .acquire = slot else {
            return try await runOnThread(request)
        }
        return try await limiter.withSlots { try await runOnThread(request) }
    }

    private func runOnThread(_ request: HTTPRequest) async throws -> HTTPResponse {
        let cancellation = CancellationFlag()
        return try await BlockingWork.run(name: "imageprep-curl", onCancel: { cancellation.cancel() }) {
            try self.performBlocking(request, cancellation)
        }
    }

    private func performBlocking(_ request: HTTPRequest, _ cancellation: CancellationFlag) throws -> HTTPResponse {
        let handle = try idleHandles.withLock { $0.popLast() } ?? CurlEasyHandle()
        defer {
            idleHandles.withLock { idle in
                if idle.count < maxIdleHandles { idle.append(handle) }
            }
        }
        return try handle.perform(request, timeouts: timeouts, cancellation: cancellation)
    }
}
