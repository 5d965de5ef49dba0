/// A role of a roles file (`roles_data.yaml`): its name, default node count
/// and default services.
public struct Role: Sendable, Equatable {
    public var name: String
    public var countDefault: Int
    public var servicesDefault: [String]

    public init(name: String, countDefault: Int, servicesDefault: [String]) {
        self.name = name
        self.countDefault = countDefault
        self.servicesDefault = servicesDefault
    }

    public static func parseRoles(_ document: ConfigValue, file: String) throws(PlanError) -> [Role] {
        guard case .list(let items) = document else {
            throw PlanError.invalidValue(file: file, key: "(document)", expected: "a list of roles", found: document.kindDescription)
        }
        var roles: [Role] = []
        for (index, item) in items.enumerated() {
            let key = "[\(index)]"
            guard case .map = item else {
                throw PlanError.invalidValue(file: file, key: key, expected: "a role mapping", found: item.kindDescription)
            }
            guard let name = item["name"], case .string(let roleName) = name else {
                throw PlanError.invalidValue(
                    file: file, key: "\(key).name", expected: "a role name", found: item["name"]?.kindDescription ?? "nothing")
            }
            let count = try item["CountDefault"].map { v throws(PlanError) in
                try Self.count(v, file: file, key: "\(roleName).CountDefault")
            } ?? 0
            let services = try Self.strings(item["ServicesDefault"], file: file, key: "\(roleName).ServicesDefault")
            roles.append(Role(name: roleName, countDefault: count, servicesDefault: services))
        }
        return roles
    }

    static func count(_ value: ConfigValue, file: String, key: String) throws(PlanError) -> Int {
        if let text = value.scalarText, case .bool = value {
            throw PlanError.invalidValue(file: file, key: key, expected: "a node count", found: text)
        }
        guard let text = value.scalarText, let count = Int(text.trimmingWhitespace()), count >= 0 else {
            throw PlanError.invalidValue(
                file: file, key: key, expected: "a node count (a whole number)",
                found: value.scalarText.map { "'\($0)'" } ?? value.kindDescription)
        }
        return count
    }

    static func strings(_ value: ConfigValue?, file: String, key: String) throws(PlanError) -> [String] {
        switch value {
        case nil, .null?: return []
        case .list(let items)?:
            var result: [String] = []
            for (index, item) in items.enumerated() {
                guard case .string(let s) = item else {
                    throw PlanError.invalidValue(file: file, key: "\(key)[\(index)]", expected: "a string", found: item.kindDescription)
                }
                result.append(s)
            }
            return result
        case let other?:
            throw PlanError.invalidValue(file: file, key: key, expected: "a list of strings", found: other.kindDescription)
        }
    }
}

/// The services a deployment runs: those of every role with a node count
/// above zero, less those the resource registry maps to `OS::Heat::None`.
public enum ServiceFilter {
    public static func enabledServices(roles: [Role], environment: HeatEnvironment) throws(PlanError) -> Set<String> {
        var enabled = Set<String>()
        for role in roles {
            let countKey = "\(role.name)Count"
            let count = try environment.parameter(countKey).map { v throws(PlanError) in
                try Role.count(v, file: environment.file(of: countKey), key: "parameter_defaults.\(countKey)")
            } ?? role.countDefault
            guard count > 0 else { continue }
            let servicesKey = "\(role.name)Services"
            if let services = environment.parameter(servicesKey) {
                enabled.formUnion(try Role.strings(services, file: environment.file(of: servicesKey), key: "parameter_defaults.\(servicesKey)"))
            } else {
                enabled.formUnion(role.servicesDefault)
            }
        }
        for entry in environment.resourceRegistry where entry.value == .string("OS::Heat::None") {
            enabled.remove(entry.key)
        }
        return enabled
    }
}
