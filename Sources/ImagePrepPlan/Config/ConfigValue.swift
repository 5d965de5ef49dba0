import Yams

/// A YAML value as read from an environment or roles file, with mapping
/// order kept and scalars kept as written.
public indirect enum ConfigValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// An integer or float, as written.
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

    public init(_ key: String, _ value: ConfigValue) {
        self.key = key
        self.value = value
    }
}

extension ConfigValue {
    /// Converts a composed YAML node, resolving scalars by YAML 1.1 rules
    /// (as PyYAML, which upstream used, does for `true`, `null`, numbers).
    public init(node: Node) {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain {
                self = .string(scalar.string)
                return
            }
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: self = .null
            case Tag.Name.bool.rawValue: self = node.bool.map(ConfigValue.bool) ?? .string(scalar.string)
            case Tag.Name.int.rawValue, Tag.Name.float.rawValue: self = .number(scalar.string)
            default: self = .string(scalar.string)
            }
        case .sequence(let sequence):
            self = .list(sequence.map { ConfigValue(node: $0) })
        case .mapping(let mapping):
            self = .map(mapping.map { key, value in
                ConfigEntry(key.string ?? "", ConfigValue(node: value))
            })
        case .alias:
            self = .null
        }
    }

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
