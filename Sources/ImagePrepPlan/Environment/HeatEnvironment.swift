/// Heat environment files merged as heatclient merges them
/// (`template_utils.deep_update`): each later file merges into the result
/// mapping by mapping, so a nested mapping such as
/// `ContainerImageRegistryCredentials` keeps the keys of earlier files; a
/// list or scalar replaces the earlier value; a null never wipes a mapping.
/// Only heat's sections (`environment_format.SECTIONS`) may appear at the top.
public struct HeatEnvironment: Sendable, Equatable {
    /// The merged document, section by section.
    public private(set) var document: [ConfigEntry] = []
    /// The file that last set each `parameter_defaults` key.
    public private(set) var parameterFiles: [String: String] = [:]

    /// heatclient's `environment_format.SECTIONS`.
    public static let sections = [
        "parameter_defaults", "parameters", "resource_registry", "encrypted_param_names", "event_sinks",
        "parameter_merge_strategies",
    ]

    public init() {}

    /// `parameter_defaults`, then `parameters` keys not in it (imageprep reads
    /// both; a key in `parameter_defaults` wins).
    public var parameterDefaults: [ConfigEntry] {
        var entries = Self.entries(of: "parameter_defaults", in: document)
        for entry in Self.entries(of: "parameters", in: document) where !entries.contains(where: { $0.key == entry.key }) {
            entries.append(entry)
        }
        return entries
    }

    public var resourceRegistry: [ConfigEntry] {
        Self.entries(of: "resource_registry", in: document)
    }

    public mutating func merge(_ document: ConfigValue, file: String) throws(PlanError) {
        switch document {
        case .null:
            return
        case .map(let sections):
            for section in sections where !Self.sections.contains(section.key) {
                throw PlanError.unsupported(
                    file: file, key: section.key,
                    reason: "not a heat environment section; a heat environment has \(Self.sections.joined(separator: ", "))")
            }
            for name in ["parameter_defaults", "parameters", "resource_registry"] {
                guard let value = document[name] else { continue }
                switch value {
                case .null, .map: break
                default: throw PlanError.invalidValue(file: file, key: name, expected: "a mapping", found: value.kindDescription)
                }
            }
            for name in ["parameter_defaults", "parameters"] {
                for entry in Self.entries(of: name, in: sections) {
                    let current = Self.entries(of: name, in: self.document).last { $0.key == entry.key }?.value
                    if entry.value == .null, case .map? = current { continue }
                    parameterFiles[entry.key] = file
                }
            }
            self.document = Self.deepUpdate(self.document, sections)
        default:
            throw PlanError.invalidValue(
                file: file, key: "(document)", expected: "a mapping with parameter_defaults",
                found: document.kindDescription)
        }
    }

    /// heatclient's `deep_update`: `new` merged into `old`.
    static func deepUpdate(_ old: [ConfigEntry], _ new: [ConfigEntry]) -> [ConfigEntry] {
        var result = old
        for entry in new {
            let index = result.lastIndex { $0.key == entry.key }
            let current = index.map { result[$0].value }
            let merged: ConfigValue
            switch (entry.value, current) {
            case (.map(let entries), .map(let existing)?):
                merged = .map(deepUpdate(existing, entries))
            case (.map(let entries), _):
                merged = .map(deepUpdate([], entries))
            case (.null, .map?):
                continue
            default:
                merged = entry.value
            }
            if let index {
                result[index] = ConfigEntry(entry.key, merged)
            } else {
                result.append(ConfigEntry(entry.key, merged))
            }
        }
        return result
    }

    public func parameter(_ name: String) -> ConfigValue? {
        parameterDefaults.last { $0.key == name }?.value
    }

    /// The value `parameter_defaults` alone gives `name` (what tripleo-ansible's module reads
    /// for a role's `<Role>ContainerImagePrepare`).
    public func parameterDefault(_ name: String) -> ConfigValue? {
        Self.entries(of: "parameter_defaults", in: document).last { $0.key == name }?.value
    }

    /// The file to name in an error about a parameter.
    public func file(of parameter: String) -> String {
        parameterFiles[parameter] ?? "environment"
    }

    public func resource(_ name: String) -> ConfigValue? {
        resourceRegistry.last { $0.key == name }?.value
    }

    private static func entries(of section: String, in document: [ConfigEntry]) -> [ConfigEntry] {
        guard case .map(let entries)? = document.last(where: { $0.key == section })?.value else { return [] }
        return entries
    }
}
