/// A malformed name or digest: the model's own parse errors.
public enum OCIError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidReference(String, reason: String)
    case invalidDigest(String)

    public var description: String {
        switch self {
        case .invalidReference(let text, let reason):
            return "invalid image reference '\(text)': \(reason)"
        case .invalidDigest(let text):
            return "invalid digest '\(text)': expected 'sha256:' followed by 64 lowercase hex digits"
        }
    }
}
