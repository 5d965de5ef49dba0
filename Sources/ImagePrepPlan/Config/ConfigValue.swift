import Yams

/// A YAML value as read from an environment or roles file, with mapping
/// order kept and scalars kept as written.
public indirect enum ConfigValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// An integer or float, as written (`YAML11Number` says what Python
    /// makes of it).
    case number(String)
    case string(String)
    case list([ConfigValue])
    case map([ConfigEntry])

    public subscript(key: String) -> ConfigValue? {
        guard case .map(let entries) = self else { return nil }
        return entries.last(where: { $0.key == key })?.value
    }

    /// A short name of this value's kind, for error messages.
    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .list: "a list"
        case .map: "a mapping"
        }
    }

    /// Python's truth of the value PyYAML makes of this one: false for null,
    /// `false`, zero, the empty string, list and mapping.
    public var isPythonTrue: Bool {
        switch self {
        case .null: false
        case .bool(let b): b
        case .number(let n): !["0", "0.0", "-0.0"].contains(YAML11Number(n)?.pythonText ?? n)
        case .string(let s): !s.isEmpty
        case .list(let items): !items.isEmpty
        case .map(let entries): !entries.isEmpty
        }
    }

    /// The text of a scalar: strings and numbers as written, booleans as
    /// `true`/`false`; nil for null, lists and mappings.
    public var scalarText: String? {
        switch self {
        case .string(let s), .number(let s): s
        case .bool(let b): b ? "true" : "false"
        case .null, .list, .map: nil
        }
    }
}

public struct ConfigEntry: Sendable, Equatable {
    public var key: String
    public var value: ConfigValue
    /// The value's text as written, when YAML 1.1 reads a boolean where
    /// YAML 1.2 would read a string (`yes`, `no`, `on`, `off`), for a
    /// warning. Not part of the value: entries are equal without it.
    public var written: String?

    public init(_ key: String, _ value: ConfigValue) {
        self.key = key
        self.value = value
    }

    public static func == (lhs: ConfigEntry, rhs: ConfigEntry) -> Bool {
        lhs.key == rhs.key && lhs.value == rhs.value
    }
}

extension ConfigValue {
    /// The YAML node for this value, quoting strings that would otherwise
    /// read back as another type.
    public var node: Node {
        switch self {
        case .null: return Node("null", Tag(.null))
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool))
        case .number(let n): return Node(n, Tag(.int))
        case .string(let s): return .scalar(s.represented())
        case .list(let items): return .sequence(Node.Sequence(items.map(\.node)))
        case .map(let entries):
            return .mapping(Node.Mapping(entries.map { (Node.scalar($0.key.represented()), $0.value.node) }))
        }
    }
}
