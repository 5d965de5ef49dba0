/// The project's one bounded concurrent map: `body` runs for each element with at most
/// `limit` at once, the next element started as one finishes, and the outputs come back in
/// the input's order whatever the order of completion. Used for the images of each prepare
/// stage and for the blobs of one image.
///
/// After each output, `decide` says whether to go on (``Decision``): a caller that must stop
/// early (a blob that failed) stops starting elements, or cancels those running too.
public enum BoundedMap {
    public enum Decision: Sendable {
        /// Start the next element.
        case startMore
        /// Start no more; let those running finish.
        case finishRunning
        /// Start no more and cancel those running: the map returns once they have ended.
        case cancelRunning
    }

    public struct Outcome<Output: Sendable>: Sendable {
        /// Each element's output, in the input's order; nil for an element never started
        /// (or still running when the map was cancelled).
        public var outputs: [Output?]
        /// The output whose decision cancelled the map, if one did.
        public var cancelledBy: Output?
    }

    /// Runs `body` for the elements as ``BoundedMap`` says, with `decide` after each output.
    public static func run<Element: Sendable, Output: Sendable>(
        _ elements: [Element], limit: Int,
        decide: @escaping @Sendable (Output) -> Decision = { _ in .startMore },
        _ body: @escaping @Sendable (Element) async -> Output
    ) async -> Outcome<Output> {
        await withTaskGroup(of: (Int, Output).self) { group in
            var outcome = Outcome<Output>(outputs: [Output?](repeating: nil, count: elements.count), cancelledBy: nil)
            var next = 0
            var startsMore = true
            func start() {
                guard startsMore, next < elements.count else { return }
                let index = next
                group.addTask { (index, await body(elements[index])) }
                next += 1
            }
            for _ in 0..<min(max(1, limit), elements.count) { start() }
            while let (index, output) = await group.next() {
                if outcome.cancelledBy != nil { continue }
                outcome.outputs[index] = output
                switch decide(output) {
                case .startMore:
                    start()
                case .finishRunning:
                    startsMore = false
                case .cancelRunning:
                    startsMore = false
                    outcome.cancelledBy = output
                    group.cancelAll()
                }
            }
            return outcome
        }
    }

    /// Every element's output, in the input's order.
    public static func map<Element: Sendable, Output: Sendable>(
        _ elements: [Element], limit: Int, _ body: @escaping @Sendable (Element) async -> Output
    ) async -> [Output] {
        await run(elements, limit: limit, body).outputs.compactMap { $0 }
    }
}
