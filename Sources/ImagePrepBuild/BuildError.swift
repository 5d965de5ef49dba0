/// A modification that failed, naming the image, the step, the tail of
/// buildah's output and the build directory when it was kept.
public struct BuildError: Error, Sendable, Equatable, CustomStringConvertible {
    public var image: String
    public var step: String
    public var message: String
    public var outputTail: String?
    public var buildDirectory: String?

    public init(image: String, step: String, message: String, outputTail: String? = nil, buildDirectory: String? = nil) {
        self.image = image
        self.step = step
        self.message = message
        self.outputTail = outputTail
        self.buildDirectory = buildDirectory
    }

    public var description: String { "\(image): \(detail)" }

    /// The description without the image, for lists already keyed by it.
    public var detail: String {
        var text = "\(step): \(message)"
        if let buildDirectory { text += " (build directory kept: \(buildDirectory))" }
        if let outputTail, !outputTail.isEmpty {
            text += "\n" + outputTail.split(separator: "\n", omittingEmptySubsequences: false).map { "    | \($0)" }.joined(separator: "\n")
        }
        return text
    }
}
