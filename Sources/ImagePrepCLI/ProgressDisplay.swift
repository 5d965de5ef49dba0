import ImagePrepConcurrency
import ArgumentParser
import Foundation
import ImagePrep

/// `--progress`: how a run shows what it is doing on standard error.
enum ProgressMode: String, ExpressibleByArgument, CaseIterable {
    /// `tty` when standard error is a terminal, else `plain`.
    case auto
    /// A status redrawn in place.
    case tty
    /// A status line now and then, no control characters.
    case plain
    case none
}

/// Draws the transfer stage's progress events on standard error: on a terminal a few lines
/// redrawn in place (images done, bytes and rate, ETA, the images in flight with their
/// bytes), elsewhere a one-line status every `interval`; and the final summary line.
final class ProgressDisplay: Sendable {
    enum Style {
        case tty, plain
    }

    private struct Transfer {
        var target: String
        var bytes: Int64 = 0
        var expected: Int64?
    }

    private struct State {
        var total = 0
        var done = 0
        var bytes: Int64 = 0
        /// In the order they started.
        var inFlight: [Transfer] = []
        var summary = TransferSummary()
        /// Lines of the status drawn last (tty), to be drawn over.
        var drawn = 0
        var stopped = false
        /// Whether the run got to its transfers.
        var planned = false
    }

    /// Images shown in flight; the others are counted.
    static let shownInFlight = 4

    let style: Style
    let interval: Duration
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private let state = Locked(State())
    private let ticker = Locked<Task<Void, Never>?>(nil)
    private let write: @Sendable (String) -> Void

    init(style: Style, interval: Duration, write: @escaping @Sendable (String) -> Void = ProgressDisplay.standardError) {
        self.style = style
        self.interval = interval
        self.write = write
        start = clock.now
    }

    /// The display `mode` asks for, or nil for none.
    static func make(_ mode: ProgressMode, interval: Duration) -> ProgressDisplay? {
        switch mode {
        case .none: return nil
        case .tty: return ProgressDisplay(style: .tty, interval: .milliseconds(200))
        case .plain: return ProgressDisplay(style: .plain, interval: interval)
        case .auto:
            return isatty(STDERR_FILENO) != 0
                ? ProgressDisplay(style: .tty, interval: .milliseconds(200)) : ProgressDisplay(style: .plain, interval: interval)
        }
    }

    @Sendable static func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Starts the periodic redraw (tty) or status line (plain).
    func begin() {
        let interval = self.interval
        ticker.withLock {
            $0 = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self, !Task.isCancelled else { return }
                    self.tick()
                }
            }
        }
    }

    func handle(_ event: ProgressEvent) {
        state.withLock { state in
            guard !state.stopped else { return }
            switch event {
            case .planned(let images):
                state.total = images
                // The first status at once: the run's size is known (a later count is drawn
                // with the next status).
                if style == .plain && images > 0 && !state.planned { write(statusLine(state) + "\n") }
                state.planned = true
            case .started(let target, let expected):
                state.inFlight.append(Transfer(target: target, expected: expected))
            case .bytes(let target, let count):
                state.bytes += Int64(count)
                if let index = state.inFlight.firstIndex(where: { $0.target == target }) {
                    state.inFlight[index].bytes += Int64(count)
                }
            case .finished(let result):
                state.done += 1
                state.summary.add(result)
                state.inFlight.removeAll { $0.target == result.target }
                if style == .tty {
                    // Each image's line above the status, as it finishes.
                    write(clear(&state) + ReportText.line(result) + "\n" + draw(&state))
                }
            }
        }
    }

    private func tick() {
        state.withLock { state in
            guard !state.stopped else { return }
            switch style {
            case .tty: write(clear(&state) + draw(&state))
            case .plain: if state.total > 0 && state.done < state.total { write(statusLine(state) + "\n") }
            }
        }
    }

    /// Stops drawing; on a terminal the last status (all images done) is drawn, then
    /// cleared. Returns the run's summary as the events told it.
    @discardableResult
    func stop() -> TransferSummary {
        ticker.withLock {
            $0?.cancel()
            $0 = nil
        }
        return state.withLock { state in
            if !state.stopped, style == .tty {
                write(clear(&state) + draw(&state) + clear(&state))
            }
            state.stopped = true
            var summary = state.summary
            summary.seconds = seconds(clock.now - start)
            return summary
        }
    }

    /// The final summary line, after the report, when the run got to its transfers.
    func finish() {
        let summary = stop()
        if state.withLock({ $0.planned }) { write(ReportText.summary(summary) + "\n") }
    }

    // MARK: Drawing

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// `N/M images, bytes copied, rate, ETA`.
    private func statusLine(_ state: State) -> String {
        let elapsed = seconds(clock.now - start)
        var eta = "--"
        if state.done > 0, state.done < state.total {
            let remaining = elapsed / Double(state.done) * Double(state.total - state.done)
            eta = Self.clockTime(remaining)
        } else if state.done >= state.total, state.total > 0 {
            eta = "0:00"
        }
        let rate = elapsed > 0 ? Double(state.bytes) / elapsed : 0
        return "progress: \(state.done)/\(state.total) images, \(ReportText.bytes(state.bytes)) copied, "
            + "\(ReportText.rate(rate)), ETA \(eta), \(String(format: "%.0f", elapsed)) s"
    }

    static func clockTime(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600
            ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
            : String(format: "%d:%02d", total / 60, total % 60)
    }

    /// The tty status: the status line and the images in flight, each cut to the terminal.
    private func draw(_ state: inout State) -> String {
        guard state.planned else { return "" }
        let width = Self.terminalWidth()
        var lines = [statusLine(state)]
        for transfer in state.inFlight.prefix(Self.shownInFlight) {
            let bytes = transfer.expected.map { "\(ReportText.bytes(transfer.bytes))/\(ReportText.bytes($0))" }
                ?? ReportText.bytes(transfer.bytes)
            // The image's name and tag: the registry and namespace are the same for most.
            lines.append("  \(transfer.target.split(separator: "/").last ?? "")  \(bytes)")
        }
        if state.inFlight.count > Self.shownInFlight {
            lines.append("  and \(state.inFlight.count - Self.shownInFlight) more")
        }
        state.drawn = lines.count
        return lines.map { String($0.prefix(max(20, width - 1))) + "\n" }.joined()
    }

    /// Moves back over the status drawn last and clears it.
    private func clear(_ state: inout State) -> String {
        defer { state.drawn = 0 }
        guard state.drawn > 0 else { return "" }
        return "\u{1B}[\(state.drawn)A\r\u{1B}[J"
    }

    static func terminalWidth() -> Int {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}
