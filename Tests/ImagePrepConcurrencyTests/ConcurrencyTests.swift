import Foundation
import ImagePrepConcurrency
import XCTest

/// The one slot helper (`ConcurrencyLimiter.withSlots`) and the one way off the pool (`BlockingWork`).
final class ConcurrencyTests: XCTestCase {
    struct Failure: Error {}

    func testWithSlotsReleasesOnReturnAndOnThrow() async throws {
        let limiter = ConcurrencyLimiter(limit: 2)
        let two = await limiter.withSlots(2) { 2 }
        XCTAssertEqual(two, 2)
        do {
            try await limiter.withSlots(2) { throw Failure() }
            XCTFail("expected the thrown error")
        } catch is Failure {}
        // Both slots are free again: taking them does not wait (a leak would hang here).
        let task = Task { await limiter.withSlots(2) { true } }
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await task.value }
            group.addTask { try? await Task.sleep(for: .seconds(10)); return false }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        XCTAssertTrue(finished)
    }

    /// Bodies run one after another reuse an idle thread instead of starting one each (a
    /// run sends hundreds of requests, each a body).
    func testBlockingWorkReusesIdleThreads() async throws {
        var threads = Set<UInt>()
        for _ in 0..<50 {
            threads.insert(try await BlockingWork.run(name: "imageprep-test") { UInt(pthread_self()) })
        }
        // A thread counts busy from its body's end (which resumes the caller) until it takes
        // the lock again, so a caller quick enough may start one more now and then: a few, not
        // one per body. Under a loaded machine (the full suite beside other builds) 10 of 50
        // were seen; without reuse there are 50.
        XCTAssertLessThanOrEqual(threads.count, 20, "\(threads.count) threads for 50 bodies in a row")
    }

    func testBlockingWorkRunsOffThePoolAndCancels() async throws {
        // More bodies than the cooperative pool has threads, each blocked until all have
        // started: on the pool they would wait for each other forever.
        let count = ProcessInfo.processInfo.activeProcessorCount + 30
        let barrier = Barrier(count)
        let started = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<count {
                group.addTask { try await BlockingWork.run(name: "imageprep-test") { barrier.arriveAndWait(timeout: 10) } }
            }
            return try await group.reduce(true) { $0 && $1 }
        }
        XCTAssertTrue(started, "the blocking bodies did not all run at once")
        do {
            _ = try await BlockingWork.run(name: "imageprep-test") { () throws -> Int in throw Failure() }
            XCTFail("expected the thrown error")
        } catch is Failure {}
        // A cancelled caller's onCancel releases the blocked body.
        let released = DispatchSemaphore(value: 0)
        let task = Task {
            try await BlockingWork.run(name: "imageprep-test", onCancel: { released.signal() }) {
                released.wait()
                return true
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        let result = try await task.value
        XCTAssertTrue(result)
    }
}

/// Lets `count` threads wait until all of them have arrived.
final class Barrier: @unchecked Sendable {
    private let condition = NSCondition()
    private var arrived = 0
    private let count: Int

    init(_ count: Int) { self.count = count }

    /// Whether every thread arrived within `timeout` seconds.
    func arriveAndWait(timeout: TimeInterval) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        condition.broadcast()
        let deadline = Date().addingTimeInterval(timeout)
        while arrived < count {
            if !condition.wait(until: deadline) { return false }
        }
        return true
    }
}

extension ConcurrencyTests {
    /// Many tasks changing one `Locked` value lose no update, and a throwing body leaves the
    /// lock free for the next.
    /// One body at a time per key (a yum_cache's one writer), bodies of other keys and
    /// without a key alongside.
    func testExclusiveKeysSerializeOneKeyOnly() async throws {
        actor Overlap {
            var running: [String: Int] = [:]
            var most: [String: Int] = [:]
            func enter(_ key: String) { running[key, default: 0] += 1; most[key] = max(most[key] ?? 0, running[key]!) }
            func leave(_ key: String) { running[key, default: 0] -= 1 }
            var together = 0
            var mostTogether = 0
            func enterAny() { together += 1; mostTogether = max(mostTogether, together) }
            func leaveAny() { together -= 1 }
        }
        let keys = ExclusiveKeys()
        let overlap = Overlap()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<12 {
                let key: String? = index % 3 == 2 ? nil : (index % 3 == 0 ? "/var/cache/a" : "/var/cache/b")
                group.addTask {
                    await keys.withExclusive(key) {
                        let name = key ?? "none"
                        await overlap.enter(name)
                        await overlap.enterAny()
                        try? await Task.sleep(for: .milliseconds(20))
                        await overlap.leaveAny()
                        await overlap.leave(name)
                    }
                }
            }
        }
        let most = await overlap.most
        XCTAssertEqual(most["/var/cache/a"], 1)
        XCTAssertEqual(most["/var/cache/b"], 1)
        XCTAssertGreaterThan(most["none"] ?? 0, 1)
        let together = await overlap.mostTogether
        XCTAssertGreaterThan(together, 2)
    }

    func testLockedSerializesUpdatesAndSurvivesAThrowingBody() async throws {
        let counter = Locked(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    for _ in 0..<1000 { counter.withLock { $0 += 1 } }
                }
            }
        }
        XCTAssertEqual(counter.withLock { $0 }, 16_000)
        XCTAssertThrowsError(try counter.withLock { _ in throw Failure() })
        XCTAssertEqual(counter.withLock { value -> Int in value += 1; return value }, 16_001)
    }
}
