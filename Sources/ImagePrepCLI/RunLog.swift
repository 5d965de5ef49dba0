import Foundation
import ImagePrep
import ImagePrepConcurrency
import ImagePrepOCI
import ImagePrepPlan

/// `prepare --log-file FILE`: what the run did, a timestamped line each, appended as upstream's
/// deploy-time prepare appends to /var/log/tripleo-container-image-prepare.log: the run's
/// start, each image as it finishes, the warnings, the modification report and the summary,
/// or the error that ended it. Control characters are escaped; no credential is ever in
/// these lines. The file is created 0600.
final class RunLog: Sendable {
    private let handle: FileHandle
    /// The image lines written as the images finished, not repeated by the report.
    private let imageLines = Locked<Set<String>>([])

    /// Opens `path` for appending; one line naming the file when it cannot be.
    init(path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw CommandRefusal("--log-file \(path): cannot open it for writing: \(String(cString: strerror(errno)))")
        }
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    func write(_ line: String) {
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime])
        let text = line.split(separator: "\n", omittingEmptySubsequences: false)
            .map { "\(stamp) \(String($0).escapingControlCharacters())\n" }.joined()
        imageLines.withLock { _ in try? handle.write(contentsOf: Data(text.utf8)) }
    }

    /// The lines of the progress events worth keeping: each image's outcome.
    func handle(_ event: ProgressEvent) {
        guard case .finished(let result) = event else { return }
        let line = ReportText.line(result)
        imageLines.withLock { _ = $0.insert(line) }
        write(line)
    }

    /// The end of a run that succeeded.
    func finish(_ result: PrepareResult, report: [String]) {
        for warning in result.plan.warnings { write("Warning: \(warning)") }
        let written = imageLines.withLock { $0 }
        for line in report where !written.contains(line) { write(line) }
        if let summary = result.summary { write(ReportText.summary(summary)) }
        write("prepare finished: \(result.parameters.count) image parameter(s)")
    }

    /// The end of a run that failed.
    func fail(_ error: any Error) {
        write("prepare failed: \(error)")
    }
}
