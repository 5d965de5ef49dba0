import Yams

/// Parses YAML text into a `ConfigValue` as PyYAML reads it (see
/// `ConfigReader`), turning libyaml's errors into a `PlanError` that names
/// the file, line and column.
public enum ConfigDocument {
    public static func parse(_ text: String, file: String) throws(PlanError) -> ConfigValue {
        do {
            try AliasExpansionCheck.check(text, file: file)
            guard let node = try Yams.compose(yaml: text) else { return .null }
            return try ConfigReader(file: file).value(node)
        } catch let error as PlanError {
            throw error
        } catch let error as YamlError {
            throw Self.planError(error, file: file)
        } catch {
            throw PlanError.invalidYAML(file: file, line: nil, column: nil, problem: "\(error)")
        }
    }

    static func planError(_ error: YamlError, file: String) -> PlanError {
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let text = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ", ")
            return .invalidYAML(file: file, line: mark.line, column: mark.column, problem: text)
        case .reader(let problem, _, _, _):
            return .invalidYAML(file: file, line: nil, column: nil, problem: problem)
        case .duplicatedKeysInMapping(let duplicates, _):
            return .invalidYAML(file: file, line: nil, column: nil, problem: "duplicated keys \(duplicates.joined(separator: ", "))")
        default:
            return .invalidYAML(file: file, line: nil, column: nil, problem: "\(error)")
        }
    }

    /// YAML text for a value, keys in the order given.
    public static func serialize(_ value: ConfigValue) -> String {
        // Serializing a node built from ConfigValue cannot fail: every
        // scalar is a valid string.
        (try? Yams.serialize(node: value.node, indent: 2, width: -1, allowUnicode: true)) ?? ""
    }
}
