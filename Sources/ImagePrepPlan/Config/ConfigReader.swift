import Yams

/// Turns a composed YAML document into a `ConfigValue` as PyYAML's
/// `safe_load` (what heatclient and tripleo-common read with) would:
/// scalars by YAML 1.1 rules, merge keys (`<<: *anchor`, `<<: [*a, *b]`)
/// resolved with explicit keys winning, each key once. Aliases are expanded
/// into the value (`AliasExpansionCheck` has bounded that before).
struct ConfigReader {
    let file: String

    /// PyYAML's "found unhashable key", said for an operator.
    static let collectionKeyProblem = "a mapping key must be a string, not a list or mapping"

    func value(_ node: Node) throws(PlanError) -> ConfigValue {
        switch node {
        case .scalar(let scalar):
            return Self.scalar(scalar, tag: node.tag)
        case .sequence(let sequence):
            var items: [ConfigValue] = []
            items.reserveCapacity(sequence.count)
            for item in sequence { items.append(try value(item)) }
            return .list(items)
        case .mapping(let mapping):
            return .map(try entries(mapping))
        case .alias:
            // Yams's composer expands aliases into the node they name.
            return .null
        }
    }

    /// A mapping's entries: those merged in first (for `<<: [*a, *b]`, a's
    /// over b's), then its own, each key once, at its first place with its
    /// last value — PyYAML's `flatten_mapping` and a Python dict.
    private func entries(_ mapping: Node.Mapping) throws(PlanError) -> [ConfigEntry] {
        var merged: [ConfigEntry] = []
        var own: [ConfigEntry] = []
        for (key, value) in mapping {
            if case .scalar(let scalar) = key, scalar.style == .plain, key.tag.rawValue == Tag.Name.merge.rawValue {
                merged += try mergedEntries(value, at: key.mark)
                continue
            }
            guard case .scalar(let keyScalar) = key else {
                throw PlanError.invalidYAML(
                    file: file, line: key.mark.map { $0.line }, column: key.mark.map { $0.column },
                    problem: Self.collectionKeyProblem)
            }
            var entry = ConfigEntry(keyScalar.string, try self.value(value))
            if case .bool = entry.value, case .scalar(let scalar) = value, !Self.canonicalBooleans.contains(scalar.string) {
                entry.written = scalar.string
            }
            own.append(entry)
        }
        var result: [ConfigEntry] = []
        var positions: [String: Int] = [:]
        for entry in merged + own {
            if let position = positions[entry.key] {
                result[position] = entry
            } else {
                positions[entry.key] = result.count
                result.append(entry)
            }
        }
        return result
    }

    private func mergedEntries(_ node: Node, at mark: Mark?) throws(PlanError) -> [ConfigEntry] {
        switch node {
        case .mapping(let mapping):
            return try entries(mapping)
        case .sequence(let sequence):
            var sources: [[ConfigEntry]] = []
            for item in sequence {
                guard case .mapping(let mapping) = item else {
                    throw mergeError(item, at: mark, expected: "a mapping for merging")
                }
                sources.append(try entries(mapping))
            }
            return sources.reversed().flatMap { $0 }
        default:
            throw mergeError(node, at: mark, expected: "a mapping or list of mappings for merging")
        }
    }

    /// `mark` is the merge key's: an alias's node carries its anchor's place.
    private func mergeError(_ node: Node, at mark: Mark?, expected: String) -> PlanError {
        let found = node.scalar != nil ? "a scalar" : (node.sequence != nil ? "a list" : "a mapping")
        return .invalidYAML(
            file: file, line: mark.map { $0.line }, column: mark.map { $0.column },
            problem: "<<: expected \(expected), found \(found)")
    }

    /// The spellings of a boolean that mean one in YAML 1.2 too; any other
    /// (`yes`, `no`, `on`, `off`) is a YAML 1.1 surprise worth a warning.
    static let canonicalBooleans: Set<String> = ["true", "True", "TRUE", "false", "False", "FALSE"]

    /// A scalar as PyYAML resolves it: quoted is a string; plain is null,
    /// boolean, number (PyYAML's rules, narrower than Yams's: `1e3` is a
    /// string) or string.
    static func scalar(_ scalar: Node.Scalar, tag: Tag) -> ConfigValue {
        guard scalar.style == .plain else { return .string(scalar.string) }
        switch tag.rawValue {
        case Tag.Name.null.rawValue: return .null
        case Tag.Name.bool.rawValue: return Bool.construct(from: scalar).map(ConfigValue.bool) ?? .string(scalar.string)
        case Tag.Name.int.rawValue, Tag.Name.float.rawValue:
            return YAML11Number(scalar.string) != nil ? .number(scalar.string) : .string(scalar.string)
        default: return .string(scalar.string)
        }
    }
}
