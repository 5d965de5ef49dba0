import ImagePrepPlan

/// Why a prepare run stopped, naming the file, image or registry involved.
public enum PrepareError: Error, Sendable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case unwritable(path: String, reason: String)
    case plan(PlanError)
    /// Images that could not be resolved or transferred; the others went on.
    case imagesFailed([ImageFailure])
    case invalidReference(String, String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): cannot read: \(reason)"
        case .unwritable(let path, let reason): return "\(path): cannot write: \(reason)"
        case .plan(let error): return error.description
        case .invalidReference(let name, let reason): return "\(name): \(reason)"
        case .imagesFailed(let failures):
            let lines = failures.map { "  \($0.image): \($0.reason)" }
            return "\(failures.count) image(s) failed; no output file was written:\n" + lines.joined(separator: "\n")
        }
    }
}

public struct ImageFailure: Error, Sendable, Equatable {
    public var image: String
    public var reason: String

    public init(image: String, reason: String) {
        self.image = image
        self.reason = reason
    }
}
