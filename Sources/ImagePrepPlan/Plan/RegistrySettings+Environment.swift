import Foundation

extension RegistrySettings {
    init(environment: HeatEnvironment) throws(PlanError) {
        self.init()
        func file(_ key: String) -> String { environment.file(of: key) }
        if let value = environment.parameter("ContainerImageRegistryCredentials"), value != .null {
            let key = "ContainerImageRegistryCredentials"
            guard case .map(let registries) = value else {
                throw PlanError.invalidValue(
                    file: file(key), key: key, expected: "a mapping of registry: {user: password}", found: value.kindDescription)
            }
            for registry in registries {
                guard case .map(let users) = registry.value, users.count == 1, let password = users[0].value.scalarText else {
                    throw PlanError.invalidValue(
                        file: file(key), key: "\(key).\(registry.key)", expected: "one 'user: password' pair",
                        found: registry.value.kindDescription)
                }
                credentials[registry.key] = RegistryCredential(user: users[0].key, password: password)
            }
        }
        if let value = environment.parameter("ContainerImageRegistryLogin"), value != .null {
            guard case .bool(let b) = value else {
                throw PlanError.invalidValue(
                    file: file("ContainerImageRegistryLogin"), key: "ContainerImageRegistryLogin", expected: "true or false",
                    found: PrepareEntry.describe(value))
            }
            login = b
        }
        mirror = try Self.string(environment, "DockerRegistryMirror")
        localRegistry = try Self.string(environment, "LocalContainerRegistry")
        if let value = environment.parameter("AdditionalArchitectures") {
            additionalArchitectures = try Self.list(value, file: file("AdditionalArchitectures"), key: "AdditionalArchitectures")
        }
        if let value = environment.parameter("DockerInsecureRegistryAddress") {
            insecureRegistries = try Self.list(value, file: file("DockerInsecureRegistryAddress"), key: "DockerInsecureRegistryAddress")
        }
    }

    private static func string(_ environment: HeatEnvironment, _ key: String) throws(PlanError) -> String? {
        guard let value = environment.parameter(key) else { return nil }
        switch value {
        case .null: return nil
        case .string(let s): return s.isEmpty ? nil : s
        default:
            throw PlanError.invalidValue(file: environment.file(of: key), key: key, expected: "a string", found: PrepareEntry.describe(value))
        }
    }

    /// A heat comma_delimited_list: a list of strings or one comma-separated string.
    static func list(_ value: ConfigValue, file: String, key: String) throws(PlanError) -> [String] {
        switch value {
        case .null: return []
        case .string(let s):
            return s.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        case .list:
            return try Role.strings(value, file: file, key: key)
        default:
            throw PlanError.invalidValue(file: file, key: key, expected: "a list of strings", found: PrepareEntry.describe(value))
        }
    }
}
