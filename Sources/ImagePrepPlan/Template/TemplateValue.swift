/// A value a catalog template sees, with Jinja2's rendering and truth rules
/// (upstream rendered the catalogs with Jinja2).
public enum TemplateValue: Sendable, Equatable {
    case undefined
    case null
    case bool(Bool)
    case string(String)

    /// Text as Jinja2 prints it: undefined is empty, null is `None`,
    /// booleans are `True`/`False`.
    public var rendered: String {
        switch self {
        case .undefined: ""
        case .null: "None"
        case .bool(let b): b ? "True" : "False"
        case .string(let s): s
        }
    }

    public var isTruthy: Bool {
        switch self {
        case .undefined, .null: false
        case .bool(let b): b
        case .string(let s): !s.isEmpty
        }
    }

    init(_ value: ConfigValue) {
        switch value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        // A number as Python prints what PyYAML made of it: 16.10 is 16.1, 017 is 15.
        case .number(let n): self = .string(YAML11Number(n)?.pythonText ?? n)
        case .string(let s): self = .string(s)
        case .list, .map: self = .undefined
        }
    }
}

/// The variables a template is rendered with.
public typealias TemplateContext = [String: TemplateValue]
