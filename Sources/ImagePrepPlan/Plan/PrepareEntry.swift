import Foundation
import ImagePrepOCI

/// Where an entry copies its images.
public enum PushDestination: Sendable, Equatable {
    /// `push_destination: true`: the undercloud's registry.
    case undercloud
    case registry(String)
}

/// One entry of `ContainerImagePrepare`, checked and typed.
public struct PrepareEntry: Sendable, Equatable {
    public var index: Int
    /// The parameter the entry is in: `ContainerImagePrepare`, or a role's
    /// `<Role>ContainerImagePrepare`.
    public var parameter = "ContainerImagePrepare"
    public var set: [ConfigEntry] = []
    public var includes: [String] = []
    public var excludes: [String] = []
    public var pushDestination: PushDestination?
    public var tagFromLabel: String?
    public var modifyRole: String?
    public var modifyVars: [ConfigEntry] = []
    public var modifyAppendTag: String?
    public var modifyOnlyWithLabels: [String] = []
    public var modifyOnlyWithSource: [String] = []
    /// The entry has a `multi_arch` key. Whatever its value, upstream then
    /// prepares this entry and every later one for one architecture only.
    public var hasMultiArchKey = false
    /// Deprecated `pull_source`: the registry (or namespace) the images are
    /// pulled from, put in front of each image name.
    public var pullSource: String?

    public init(index: Int, parameter: String = "ContainerImagePrepare") {
        self.index = index
        self.parameter = parameter
    }

    /// How errors and warnings name the entry: `ContainerImagePrepare[0]`.
    public var key: String { "\(parameter)[\(index)]" }

    public static let knownKeys = [
        "set", "includes", "excludes", "push_destination", "tag_from_label", "modify_role", "modify_vars",
        "modify_append_tag", "modify_only_with_labels", "modify_only_with_source", "multi_arch", "pull_source",
    ]

    /// Parses the `ContainerImagePrepare` parameter; `file` is the file that
    /// set it.
    public static func parseAll(
        _ value: ConfigValue, file: String, parameter: String = "ContainerImagePrepare"
    ) throws(PlanError) -> [PrepareEntry] {
        guard case .list(let items) = value else {
            throw PlanError.invalidValue(
                file: file, key: parameter, expected: "a list of entries", found: value.kindDescription)
        }
        var entries: [PrepareEntry] = []
        for (index, item) in items.enumerated() {
            entries.append(try parse(item, index: index, file: file, parameter: parameter))
        }
        return entries
    }

    static func parse(
        _ value: ConfigValue, index: Int, file: String, parameter: String = "ContainerImagePrepare"
    ) throws(PlanError) -> PrepareEntry {
        var entry = PrepareEntry(index: index, parameter: parameter)
        let base = entry.key
        guard case .map(let fields) = value else {
            throw PlanError.invalidValue(file: file, key: base, expected: "a mapping", found: value.kindDescription)
        }
        for field in fields {
            let key = "\(base).\(field.key)"
            let v = field.value
            switch field.key {
            case "set":
                entry.set = try setValues(v, file: file, key: key)
            case "includes":
                entry.includes = try patterns(v, file: file, key: key)
            case "excludes":
                entry.excludes = try patterns(v, file: file, key: key)
            case "push_destination":
                entry.pushDestination = try pushDestination(v, file: file, key: key)
            case "tag_from_label":
                entry.tagFromLabel = try optionalString(v, file: file, key: key)
            case "modify_role":
                entry.modifyRole = try optionalString(v, file: file, key: key)
            case "modify_vars":
                switch v {
                case .null: entry.modifyVars = []
                case .map(let vars): entry.modifyVars = vars
                default: throw PlanError.invalidValue(file: file, key: key, expected: "a mapping of variables", found: describe(v))
                }
            case "modify_append_tag":
                entry.modifyAppendTag = try appendTag(v, file: file, key: key)
            case "modify_only_with_labels":
                entry.modifyOnlyWithLabels = try strings(v, file: file, key: key)
            case "modify_only_with_source":
                entry.modifyOnlyWithSource = try strings(v, file: file, key: key)
            case "multi_arch":
                switch v {
                case .null, .bool: entry.hasMultiArchKey = true
                default: throw PlanError.invalidValue(file: file, key: key, expected: "true or false", found: describe(v))
                }
            case "pull_source":
                entry.pullSource = try optionalString(v, file: file, key: key).map {
                    $0.hasSuffix("/") ? String($0.dropLast()) : $0
                }
            default:
                throw PlanError.unsupported(
                    file: file, key: key,
                    reason: "unknown key; an entry takes \(knownKeys.joined(separator: ", "))")
            }
        }
        return entry
    }

    /// `push_destination`: false or null (none), true (the undercloud's registry), or an address.
    private static func pushDestination(
        _ value: ConfigValue, file: String, key: String
    ) throws(PlanError) -> PushDestination? {
        switch value {
        case .null, .bool(false): return nil
        case .bool(true): return .undercloud
        case .string(let s) where !s.isEmpty: return .registry(s)
        default:
            throw PlanError.invalidValue(
                file: file, key: key, expected: "true, false or a registry address (HOST:PORT)", found: describe(value))
        }
    }

    /// `modify_append_tag`: appended to a tag and written into the build's LABEL line, so tag
    /// characters only, the OCI grammar's as the CLI's --append-tag (empty: the target's tag
    /// as it is).
    private static func appendTag(_ value: ConfigValue, file: String, key: String) throws(PlanError) -> String? {
        switch value {
        case .null: return nil
        case .string(let s), .number(let s):
            guard s.isEmpty || Reference.isValidTagSuffix(s) else {
                throw PlanError.invalidValue(
                    file: file, key: key,
                    expected: "tag characters (\(Reference.tagCharacters)), at most \(Reference.maximumTagLength)",
                    found: "'\(s.debugDescription.dropFirst().dropLast())'")
            }
            return s
        default: throw PlanError.invalidValue(file: file, key: key, expected: "a string", found: describe(value))
        }
    }

    /// Warnings for `set` values that become parts of image names (keys
    /// ending in namespace, image, prefix, suffix or tag) and that YAML 1.1,
    /// as tripleo-common reads them, takes for something other than what was
    /// written: `tag: 16.10` is the number 16.1, `tag: 017` the octal 15,
    /// `name_suffix: no` the boolean false.
    public func yaml11Surprises(file: String) -> [String] {
        var warnings: [String] = []
        for value in set where Self.namePartSuffixes.contains(where: value.key.hasSuffix) {
            let reading: String
            let written: String
            switch value.value {
            case .number(let n):
                guard let surprise = YAML11Number(n)?.surprise else { continue }
                reading = surprise
                written = n
            case .bool(let b):
                guard let spelled = value.written else { continue }
                reading = "\(spelled) is read as the boolean \(b) (rendered \(b ? "True" : "False"))"
                written = spelled
            default:
                continue
            }
            warnings.append(
                "\(file): \(key).set.\(value.key): \(reading), as tripleo-common reads YAML 1.1; quote it (\"\(written)\") if \(written) is meant")
        }
        return warnings
    }

    static let namePartSuffixes = ["namespace", "image", "prefix", "suffix", "tag"]

    static func describe(_ value: ConfigValue) -> String {
        if let text = value.scalarText { return "\(value.kindDescription) '\(text)'" }
        return value.kindDescription
    }

    private static func setValues(_ value: ConfigValue, file: String, key: String) throws(PlanError) -> [ConfigEntry] {
        switch value {
        case .null: return []
        case .map(let entries):
            for entry in entries {
                switch entry.value {
                case .list, .map:
                    throw PlanError.invalidValue(
                        file: file, key: "\(key).\(entry.key)", expected: "a string, number, boolean or null",
                        found: entry.value.kindDescription)
                case .number(let n) where ["name_prefix", "name_suffix"].contains(entry.key) && entry.value.isPythonTrue:
                    // tripleo-common calls endswith/startswith on it and fails.
                    throw PlanError.invalidValue(
                        file: file, key: "\(key).\(entry.key)", expected: "a string (quote it: \"\(n)\")",
                        found: "the number \(YAML11Number(n)?.pythonText ?? n)")
                case .bool(true) where ["name_prefix", "name_suffix"].contains(entry.key):
                    throw PlanError.invalidValue(
                        file: file, key: "\(key).\(entry.key)", expected: "a string (quote it: \"\(entry.written ?? "true")\")",
                        found: "the boolean true")
                default: continue
                }
            }
            return entries
        default:
            throw PlanError.invalidValue(file: file, key: key, expected: "a mapping of template variables", found: describe(value))
        }
    }

    private static func optionalString(_ value: ConfigValue, file: String, key: String) throws(PlanError) -> String? {
        switch value {
        case .null: return nil
        case .string(let s): return s.isEmpty ? nil : s
        default: throw PlanError.invalidValue(file: file, key: key, expected: "a string", found: describe(value))
        }
    }

    private static func strings(_ value: ConfigValue, file: String, key: String) throws(PlanError) -> [String] {
        switch value {
        case .null: return []
        case .list(let items):
            var result: [String] = []
            for (index, item) in items.enumerated() {
                switch item {
                case .string(let s), .number(let s): result.append(s)
                default:
                    throw PlanError.invalidValue(file: file, key: "\(key)[\(index)]", expected: "a string", found: describe(item))
                }
            }
            return result
        default:
            throw PlanError.invalidValue(file: file, key: key, expected: "a list of strings", found: describe(value))
        }
    }

    private static func patterns(_ value: ConfigValue, file: String, key: String) throws(PlanError) -> [String] {
        let result = try strings(value, file: file, key: key)
        for (index, pattern) in result.enumerated() {
            do {
                _ = try PythonRegex(pattern)
            } catch {
                switch error {
                case .invalid(let reason):
                    throw PlanError.invalidRegex(file: file, key: "\(key)[\(index)]", pattern: pattern, reason: reason)
                case .unsupported(let reason):
                    throw PlanError.unsupported(file: file, key: "\(key)[\(index)]", reason: "'\(pattern)': \(reason)")
                }
            }
        }
        return result
    }
}
