import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs blocking C work (libcurl's easy API, libarchive reading a stream) on a thread
/// outside Swift's cooperative pool while the caller awaits, so it never holds one of that
/// pool's few threads. The one way the project leaves the pool.
public enum BlockingWork {
    /// Runs `body` on a thread of ``BlockingThreads``. `onCancel` runs when the awaiting task
    /// is cancelled; it must make `body` return soon (e.g. set a flag a callback checks).
    /// `name` names the thread while `body` runs.
    public static func run<Value: Sendable>(
        name: String, onCancel: @escaping @Sendable () -> Void = {},
        _ body: @escaping @Sendable () throws -> Value
    ) async throws -> Value {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                BlockingThreads.shared.submit {
                    Thread.current.name = name
                    continuation.resume(with: Result { try body() })
                }
            }
        } onCancel: {
            onCancel()
        }
    }
}

/// The threads blocking work runs on: a body gets an idle thread, or a new one when every
/// thread is busy (so bodies that wait for each other never wait for a thread); a thread
/// idle for ``idleTimeout`` ends. (A thread of its own per body cost a `clone` and its
/// teardown per HTTP request, a tenth of a no-op re-run; Dispatch's queues cap their
/// threads, and blocked bodies would wait for each other.)
final class BlockingThreads: @unchecked Sendable {
    static let shared = BlockingThreads()
    static let idleTimeout: Int = 10

    typealias Job = @Sendable () -> Void

    // Everything below is read and written with `mutex` held.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wakeup: UnsafeMutablePointer<pthread_cond_t>
    private var jobs: [Job] = []
    /// Threads waiting for a job that no job has claimed yet.
    private var idle = 0
    /// Jobs handed to waiting threads that no thread has woken for yet.
    private var claims = 0

    private init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        wakeup = .allocate(capacity: 1)
        wakeup.initialize(to: pthread_cond_t())
        pthread_cond_init(wakeup, nil)
    }

    func submit(_ job: @escaping Job) {
        pthread_mutex_lock(mutex)
        jobs.append(job)
        let spawn = idle == 0
        if !spawn {
            idle -= 1
            claims += 1
            pthread_cond_signal(wakeup)
        }
        pthread_mutex_unlock(mutex)
        if spawn {
            let thread = Thread { [self] in work() }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    private func work() {
        pthread_mutex_lock(mutex)
        while true {
            if !jobs.isEmpty {
                let job = jobs.removeFirst()
                pthread_mutex_unlock(mutex)
                job()
                pthread_mutex_lock(mutex)
                continue
            }
            idle += 1
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_sec += Self.idleTimeout
            let status = pthread_cond_timedwait(wakeup, mutex, &deadline)
            if claims > 0 {
                // Woken for a job (the submitter counted this thread busy).
                claims -= 1
            } else {
                idle -= 1
                if status == ETIMEDOUT && jobs.isEmpty { break }
            }
        }
        pthread_mutex_unlock(mutex)
    }
}
