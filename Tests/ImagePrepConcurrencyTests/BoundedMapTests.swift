import ImagePrepConcurrency
import XCTest

final class BoundedMapTests: XCTestCase {
    /// The outputs keep the input's order though the elements finish in reverse, and no more
    /// than the limit run at once.
    func testOutputsKeepTheInputOrderAndAtMostTheLimitRun() async throws {
        let running = Locked((now: 0, most: 0))
        let outputs = await BoundedMap.map(Array(0..<12), limit: 3) { element -> Int in
            running.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
            try? await Task.sleep(for: .milliseconds(5 * (12 - element)))
            running.withLock { $0.now -= 1 }
            return element * 10
        }
        XCTAssertEqual(outputs, (0..<12).map { $0 * 10 })
        XCTAssertEqual(running.withLock { $0.most }, 3)
    }

    /// `finishRunning` starts nothing more and lets those running give their outputs.
    func testFinishRunningStartsNoMoreAndKeepsTheRunningOnesOutputs() async {
        let started = Locked(0)
        let outcome = await BoundedMap.run(Array(0..<10), limit: 2, decide: { $0 == 0 ? .finishRunning : .startMore }) {
            element -> Int in
            started.withLock { $0 += 1 }
            // Element 0 finishes first; element 1 is running then and still finishes.
            try? await Task.sleep(for: .milliseconds(element == 0 ? 1 : 50))
            return element
        }
        XCTAssertEqual(started.withLock { $0 }, 2)
        XCTAssertEqual(outcome.outputs, [0, 1] + Array(repeating: nil, count: 8))
        XCTAssertNil(outcome.cancelledBy)
    }

    /// `cancelRunning` cancels those running and names the output that decided it.
    func testCancelRunningCancelsTheRunningOnesAndNamesTheCause() async {
        let cancelled = Locked(0)
        let outcome = await BoundedMap.run(Array(0..<10), limit: 3, decide: { $0 < 0 ? .cancelRunning : .startMore }) {
            element -> Int in
            if element == 0 { return -1 }
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                cancelled.withLock { $0 += 1 }
            }
            return element
        }
        XCTAssertEqual(outcome.cancelledBy, -1)
        XCTAssertEqual(cancelled.withLock { $0 }, 2, "the two running beside the failed one are cancelled")
        XCTAssertEqual(outcome.outputs.compactMap { $0 }, [-1])
    }

    func testNoElementsGiveNoOutputs() async {
        let outputs = await BoundedMap.map([Int](), limit: 4) { $0 }
        XCTAssertEqual(outputs, [])
    }
}
