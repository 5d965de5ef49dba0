import Foundation
@testable import ImagePrepRegistry
import XCTest

/// The one retry loop (`RetryPolicy.run`).
final class RetryHelperTests: XCTestCase {
    struct Failure: Error, Equatable { var attempt: Int }

    final class Counter: @unchecked Sendable {
        var attempts: [Int] = []
    }

    func testRunRetriesUpToMaxAttemptsThenThrowsTheLastFailure() async throws {
        let policy = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(1))
        let counter = Counter()
        do {
            let _: Int = try await policy.run { attempt in
                counter.attempts.append(attempt)
                return .retry(failure: Failure(attempt: attempt))
            }
            XCTFail("expected the last failure")
        } catch let failure as Failure {
            XCTAssertEqual(failure, Failure(attempt: 3))
        }
        XCTAssertEqual(counter.attempts, [1, 2, 3])
        XCTAssertTrue(policy.isLast(3))
        XCTAssertFalse(policy.isLast(2))
    }

    func testRunReturnsOnSuccessAndHonoursTheAskedDelay() async throws {
        let policy = RetryPolicy(maxAttempts: 5, initialDelay: .seconds(30))
        let started = ContinuousClock.now
        let value: String = try await policy.run { attempt in
            attempt < 3 ? .retry(after: .milliseconds(20), failure: Failure(attempt: attempt)) : .done("third")
        }
        XCTAssertEqual(value, "third")
        let elapsed = ContinuousClock.now - started
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(40))
        XCTAssertLessThan(elapsed, .seconds(10), "the 30 s backoff must not be used when a delay is asked")
    }

    func testAgainRepeatsAtOnceEvenOnTheLastAttempt() async throws {
        let policy = RetryPolicy.none
        let value: Int = try await policy.run { attempt in attempt == 1 ? .again : .done(attempt) }
        XCTAssertEqual(value, 2)
    }

    func testThrownErrorsAreNotRetried() async throws {
        let policy = RetryPolicy(maxAttempts: 5, initialDelay: .milliseconds(1))
        let counter = Counter()
        do {
            let _: Int = try await policy.run { attempt in
                counter.attempts.append(attempt)
                throw Failure(attempt: attempt)
            }
            XCTFail("expected the thrown error")
        } catch let failure as Failure {
            XCTAssertEqual(failure.attempt, 1)
        }
        XCTAssertEqual(counter.attempts, [1])
    }

    func testNestedLoopsSharingABudgetStopAtMaxAttemptsInAll() async throws {
        let policy = RetryPolicy(maxAttempts: 4, initialDelay: .milliseconds(1))
        let budget = RetryBudget()
        let outer = Counter()
        let inner = Counter()
        do {
            let _: Int = try await policy.run(budget: budget) { attempt in
                outer.attempts.append(attempt)
                do {
                    // The nested loop continues the outer attempt, then retries on its own.
                    let _: Int = try await policy.run(budget: budget) { number in
                        inner.attempts.append(number)
                        return number < 3 ? .retry(failure: Failure(attempt: number)) : .done(number)
                    }
                } catch {}
                return .retry(failure: Failure(attempt: budget.current))
            }
            XCTFail("expected the last failure")
        } catch let failure as Failure {
            XCTAssertEqual(failure, Failure(attempt: 4))
        }
        XCTAssertEqual(inner.attempts, [1, 2, 3, 4], "the second outer attempt's nested loop starts at 4, and is done there")
        XCTAssertEqual(outer.attempts, [1, 4], "four attempts in all, not four of each loop")
    }
}
