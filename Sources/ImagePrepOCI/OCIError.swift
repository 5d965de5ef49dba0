/// A malformed name or digest: the model's own parse errors.
public enum OCIError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidReference(String, reason: String)
    case invalidDigest(String)
    /// A manifest's or index's descriptor claims a size below 0 or above `Descriptor.maxSize`.
    case invalidDescriptorSize(digest: String, size: Int64)

    /// One line; the text from outside (a digest a registry sent) with its control
    /// characters escaped.
    public var description: String { text.escapingControlCharacters() }

    private var text: String {
        switch self {
        case .invalidReference(let text, let reason):
            return "invalid image reference '\(text)': \(reason)"
        case .invalidDigest(let text):
            return "invalid digest '\(text)': expected 'sha256:' followed by 64 lowercase hex digits"
        case .invalidDescriptorSize(let digest, let size):
            return "the descriptor of \(digest) claims \(size) bytes, expected 0 to \(Descriptor.maxSize)"
        }
    }
}
