import ImagePrepConcurrency
import XCTest

final class SingleFlightTests: XCTestCase {
    private struct Failure: Error, Equatable {
        var attempt: Int
    }

    func testConcurrentCallersShareOneComputationAndLaterCallersItsValue() async throws {
        let flights = SingleFlight<String, Int>(onFailure: .computeAgain)
        let computations = Locked(0)
        let gate = AsyncGate()
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await flights.value(for: "registry") {
                        computations.withLock { $0 += 1 }
                        await gate.wait()
                        return 42
                    }
                }
            }
            // Every caller is waiting on the one computation before it may finish.
            try await Task.sleep(for: .milliseconds(50))
            await gate.open()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(values, Array(repeating: 42, count: 20))
        XCTAssertEqual(computations.withLock { $0 }, 1)
        let later = try await flights.value(for: "registry") { 7 }
        XCTAssertEqual(later, 42)
        XCTAssertEqual(flights.computed("registry"), 42)
        XCTAssertEqual(flights.computedValues(), ["registry": 42])
    }

    func testAFailureKeptForTheRunIsTheAnswerWithoutComputingAgain() async {
        let flights = SingleFlight<String, Int>(onFailure: .keepForTheRun)
        let attempts = Locked(0)
        for _ in 0..<3 {
            do {
                _ = try await flights.value(for: "tags") {
                    let attempt = attempts.withLock { $0 += 1; return $0 }
                    throw Failure(attempt: attempt)
                }
                XCTFail("no failure")
            } catch {
                XCTAssertEqual(error as? Failure, Failure(attempt: 1))
            }
        }
        XCTAssertEqual(attempts.withLock { $0 }, 1)
        XCTAssertNil(flights.computed("tags"))
        // Forgotten, it is computed again.
        flights.forget("tags")
        let value = try? await flights.value(for: "tags") { 5 }
        XCTAssertEqual(value, 5)
    }

    func testAFailureComputedAgainIsRetriedByTheNextCaller() async throws {
        let flights = SingleFlight<String, Int>(onFailure: .computeAgain)
        let attempts = Locked(0)
        func ask() async throws -> Int {
            try await flights.value(for: "probe") {
                let attempt = attempts.withLock { $0 += 1; return $0 }
                if attempt < 3 { throw Failure(attempt: attempt) }
                return attempt
            }
        }
        for expected in 1...2 {
            do {
                _ = try await ask()
                XCTFail("no failure")
            } catch {
                XCTAssertEqual(error as? Failure, Failure(attempt: expected))
            }
        }
        let third = try await ask()
        XCTAssertEqual(third, 3)
        let fourth = try await ask()
        XCTAssertEqual(fourth, 3, "a success is kept")
    }

    func testAValueRefusedForReuseIsComputedAgainAndUpdatesChangeTheKeptValue() async throws {
        let flights = SingleFlight<String, Int>(onFailure: .computeAgain)
        let first = try await flights.value(for: "token") { 1 }
        let fresh = try await flights.value(for: "token", reusing: { $0 > 1 }) { 2 }
        XCTAssertEqual([first, fresh], [1, 2])
        flights.update("token") { $0 += 10 }
        let kept = try await flights.value(for: "token", reusing: { $0 > 1 }) { 3 }
        XCTAssertEqual(kept, 12)
        flights.update("missing") { $0 = 99 }
        XCTAssertNil(flights.computed("missing"))
    }
}

/// Holds callers until opened.
private actor AsyncGate {
    private var opened = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if opened { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func open() {
        opened = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }
}
