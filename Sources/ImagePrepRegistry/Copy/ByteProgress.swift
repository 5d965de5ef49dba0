import ImagePrepOCI

/// Where the bytes of a streamed blob body are reported as they arrive from the source: a
/// value the copy passes down (``ImageCopier/copy(from:to:destinationTag:progress:)`` → blob placement →
/// the destination's `putBlob` → the one body writer that sees the bytes), so nothing
/// between has to know about it.
///
/// It is a parameter, not a task-local: Swift 6.3.1's optimizer gives a closure-typed
/// `@TaskLocal` value a type metadata name the runtime cannot demangle, and
/// `withValue` then crashes in `swift_task_localValuePush` in every release build
/// (swiftlang/swift#88321; the reduction is in `Tests/Fixtures/tasklocal-closure.swift`).
public struct ByteProgress: Sendable {
    private let report: (@Sendable (Int) -> Void)?

    /// Reports nothing.
    public static let none = ByteProgress(report: nil)

    private init(report: (@Sendable (Int) -> Void)?) {
        self.report = report
    }

    /// Tells `report` the count of each piece of a streamed body as it arrives (a retried
    /// transfer counts again).
    public init(_ report: @escaping @Sendable (Int) -> Void) {
        self.report = report
    }

    /// Tells whoever listens that `bytes` more arrived.
    public func callAsFunction(_ bytes: Int) {
        report?(bytes)
    }

    /// `writer`, also counting its bytes when anything listens.
    func observing(_ writer: @escaping BodyWriter) -> BodyWriter {
        guard let report else { return writer }
        return { bytes in
            try writer(bytes)
            report(bytes.count)
        }
    }
}

extension ImageCopier {
    /// ``copy(from:to:destinationTag:progress:)``, telling `progress` the bytes of each blob streamed from
    /// the source as they arrive (a retried transfer counts again; the report's
    /// `bytesCopied` is exact).
    public func copy(from source: Reference, to destination: Reference, progress: @escaping @Sendable (Int) -> Void)
        async throws -> ImageCopyReport
    {
        try await copy(from: source, to: destination, progress: ByteProgress(progress))
    }
}
