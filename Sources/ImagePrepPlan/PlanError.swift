/// Input that can't be planned, with the file, the key and what was expected.
public enum PlanError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidYAML(file: String, line: Int?, column: Int?, problem: String)
    case invalidValue(file: String, key: String, expected: String, found: String)
    /// A pattern Python's `re` (which upstream filters with) rejects.
    case invalidRegex(file: String, key: String, pattern: String, reason: String)
    case unsupported(file: String, key: String, reason: String)
    case template(TemplateError)
    case invalidCatalog(file: String, reason: String)
    /// A document that would expand past imageprep's bounds.
    case tooLarge(file: String, reason: String)

    public var description: String {
        switch self {
        case .invalidYAML(let file, let line, let column, let problem):
            let position = line.map { ":\($0)" + (column.map { ":\($0)" } ?? "") } ?? ""
            return "\(file)\(position): malformed YAML: \(problem)"
        case .invalidValue(let file, let key, let expected, let found):
            return "\(file): \(key): expected \(expected), found \(found)"
        case .invalidRegex(let file, let key, let pattern, let reason):
            return "\(file): \(key): '\(pattern)' is not a valid regular expression (\(reason))"
        case .unsupported(let file, let key, let reason):
            return "\(file): \(key): \(reason)"
        case .template(let error):
            return error.description
        case .invalidCatalog(let file, let reason), .tooLarge(let file, let reason):
            return "\(file): \(reason)"
        }
    }
}
