/// Heat environment files merged in order: `parameter_defaults`,
/// `parameters` and `resource_registry` key by key, later over earlier.
public struct HeatEnvironment: Sendable, Equatable {
    public private(set) var parameterDefaults: [ConfigEntry] = []
    public private(set) var resourceRegistry: [ConfigEntry] = []
    /// The file that last set each `parameter_defaults` key.
    public private(set) var parameterFiles: [String: String] = [:]

    public init() {}

    public mutating func merge(_ document: ConfigValue, file: String) throws(PlanError) {
        switch document {
        case .null:
            return
        case .map(let sections):
            for section in sections {
                switch section.key {
                case "parameter_defaults", "parameters":
                    for entry in try Self.mapping(section.value, file: file, key: section.key) {
                        Self.set(&parameterDefaults, entry)
                        parameterFiles[entry.key] = file
                    }
                case "resource_registry":
                    for entry in try Self.mapping(section.value, file: file, key: section.key) {
                        Self.set(&resourceRegistry, entry)
                    }
                default:
                    continue
                }
            }
        default:
            throw PlanError.invalidValue(
                file: file, key: "(document)", expected: "a mapping with parameter_defaults",
                found: document.kindDescription)
        }
    }

    public func parameter(_ name: String) -> ConfigValue? {
        parameterDefaults.last { $0.key == name }?.value
    }

    /// The file to name in an error about a parameter.
    public func file(of parameter: String) -> String {
        parameterFiles[parameter] ?? "environment"
    }

    public func resource(_ name: String) -> ConfigValue? {
        resourceRegistry.last { $0.key == name }?.value
    }

    private static func mapping(_ value: ConfigValue, file: String, key: String) throws(PlanError) -> [ConfigEntry] {
        switch value {
        case .null: return []
        case .map(let entries): return entries
        default: throw PlanError.invalidValue(file: file, key: key, expected: "a mapping", found: value.kindDescription)
        }
    }

    private static func set(_ entries: inout [ConfigEntry], _ entry: ConfigEntry) {
        if let index = entries.firstIndex(where: { $0.key == entry.key }) {
            entries[index] = entry
        } else {
            entries.append(entry)
        }
    }
}
