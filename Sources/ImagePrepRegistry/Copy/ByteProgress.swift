import ImagePrepOCI
/// The bytes of streamed blob bodies, reported as they arrive to the copy that asked for
/// them (``ImageCopier/copy(from:to:progress:)``). A task-local, so the one place that wraps
/// a streamed body's writer (`RegistryClient.send`) needs no parameter on every call between.
enum ByteProgress {
    @TaskLocal static var report: (@Sendable (Int) -> Void)?

    /// `writer`, also counting its bytes for the copy of the current task, if one asked.
    static func observing(_ writer: BodyWriter?) -> BodyWriter? {
        guard let writer, let report else { return writer }
        return { bytes in
            try writer(bytes)
            report(bytes.count)
        }
    }
}

extension ImageCopier {
    /// ``copy(from:to:)``, telling `progress` the bytes of each blob streamed from the source
    /// as they arrive (a retried transfer counts again; the report's `bytesCopied` is exact).
    public func copy(from source: Reference, to destination: Reference, progress: @escaping @Sendable (Int) -> Void)
        async throws -> ImageCopyReport
    {
        try await ByteProgress.$report.withValue(progress) {
            try await copy(from: source, to: destination)
        }
    }
}
