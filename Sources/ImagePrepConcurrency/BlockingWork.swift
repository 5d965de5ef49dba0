import Foundation

/// Runs blocking C work (libcurl's easy API, libarchive reading a stream) on a thread of
/// its own while the caller awaits, so it never holds one of the few threads of Swift's
/// cooperative pool. The one way the project leaves the pool.
public enum BlockingWork {
    /// Runs `body` on a new thread named `name`. `onCancel` runs when the awaiting task
    /// is cancelled; it must make `body` return soon (e.g. set a flag a callback checks).
    public static func run<Value: Sendable>(
        name: String, onCancel: @escaping @Sendable () -> Void = {},
        _ body: @escaping @Sendable () throws -> Value
    ) async throws -> Value {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let thread = Thread {
                    continuation.resume(with: Result { try body() })
                }
                thread.name = name
                thread.start()
            }
        } onCancel: {
            onCancel()
        }
    }
}
