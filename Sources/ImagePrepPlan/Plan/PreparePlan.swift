import Foundation
import ImagePrepOCI

/// What `prepare` will do: every image to resolve, copy or modify, and the
/// registry settings read from the environment.
public struct PreparePlan: Sendable, Equatable, Encodable {
    public var catalog: String
    public var images: [PlannedImage]
    public var registry: RegistrySettings
    /// Accepted but deprecated input, one line each, for the operator.
    public var warnings: [String] = []
    /// The `<Role>Parameters` of the roles whose `<Role>ContainerImagePrepare` is set, in
    /// roles file order (their images are in `images`, marked with it).
    public var roleParameters: [String] = []

    public init(catalog: String, images: [PlannedImage], registry: RegistrySettings, warnings: [String] = []) {
        self.catalog = catalog
        self.images = images
        self.registry = registry
        self.warnings = warnings
    }

    /// The registries (`host[:port]`) of the push destinations, sorted and
    /// without repeats.
    public var pushDestinations: [String] {
        Array(Set(images.compactMap(\.pushDestination).map(ImageName.registryHost))).sorted()
    }
}

public struct PlannedImage: Sendable, Equatable, Encodable {
    /// The `ContainerImagePrepare` entry this image comes from.
    public var entry: Int
    /// The source image as the catalog names it, with the tag of `set`.
    public var imageName: String
    /// The catalog's `image_source` (`kolla`, `tripleo`, `ceph`, ...).
    public var source: String?
    public var params: [String]
    public var pushDestination: String?
    /// `tag_from_label`, parsed when the plan was made.
    public var tagFromLabel: TagTemplate?
    public var modify: ModifyRequest?
    /// Every architecture of the image is prepared (a manifest list copied
    /// whole): `AdditionalArchitectures`, unless a `multi_arch` key turned it off.
    public var multiArch: Bool
    /// Deprecated `pull_source`, put in front of the image name to pull it.
    public var pullSource: String?
    /// From a role's `<Role>ContainerImagePrepare`: the `<Role>Parameters` its parameters are
    /// written under (nil: the top level of `parameter_defaults`).
    public var roleParameters: String?
    /// ``pullName`` parsed, for an image the run reads (nil for one only named in a
    /// parameter, and for a local image).
    public var pullReference: Reference?

    public init(
        entry: Int, imageName: String, source: String?, params: [String], pushDestination: String?,
        tagFromLabel: TagTemplate?, modify: ModifyRequest?, multiArch: Bool = false, pullSource: String? = nil
    ) {
        self.multiArch = multiArch
        self.pullSource = pullSource
        self.entry = entry
        self.imageName = imageName
        self.source = source
        self.params = params
        self.pushDestination = pushDestination
        self.tagFromLabel = tagFromLabel
        self.modify = modify
    }

    /// Where the image ends up with `tag`: re-homed to the push destination
    /// when there is one.
    public func targetName(tag: String? = nil) -> String {
        let named = tag.map { ImageName.withTag(imageName, $0) } ?? imageName
        guard let pushDestination else { return named }
        return ImageName.rehome(named, to: pushDestination)
    }

    enum CodingKeys: String, CodingKey {
        case entry, imageName = "imagename", source = "image_source", params
        case pushDestination = "push_destination", tagFromLabel = "tag_from_label", modify
        case multiArch = "multi_arch", pullSource = "pull_source", roleParameters = "role_parameters"
    }

    /// The name the image is pulled by: behind `pull_source` when one is set.
    public var pullName: String {
        pullSource.map { "\($0)/\(imageName)" } ?? imageName
    }
}

/// A modification of one image (`modify_role` and its settings).
public struct ModifyRequest: Sendable, Equatable, Encodable {
    public var role: String
    /// The built-in role's task; nil for an operator's own role, which runs through
    /// `ansible-playbook` with `vars`.
    public var task: ModifyTask?
    public var vars: [ConfigEntry]
    public var appendTag: String
    /// The image is modified only if it carries any one of these labels,
    /// which only the registry can tell.
    public var onlyWithLabels: [String]

    public init(role: String, task: ModifyTask?, vars: [ConfigEntry], appendTag: String, onlyWithLabels: [String]) {
        self.role = role
        self.task = task
        self.vars = vars
        self.appendTag = appendTag
        self.onlyWithLabels = onlyWithLabels
    }

    /// What is run: the built-in role's task, or the operator's role.
    public var action: ModifyAction {
        task.map { .builtIn($0, vars: vars) } ?? .role(role, vars: vars)
    }

    enum CodingKeys: String, CodingKey {
        case role = "modify_role", vars = "modify_vars", appendTag = "modify_append_tag"
        case onlyWithLabels = "modify_only_with_labels"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(role, forKey: .role)
        try container.encode(ConfigValue.map(vars), forKey: .vars)
        try container.encode(appendTag, forKey: .appendTag)
        try container.encode(onlyWithLabels, forKey: .onlyWithLabels)
    }
}

/// Registry settings from `parameter_defaults`. Passwords are kept but never
/// encoded or described.
public struct RegistrySettings: Sendable, Equatable, Encodable {
    /// `ContainerImageRegistryCredentials`: registry -> (user, password).
    public var credentials: [String: RegistryCredential] = [:]
    public var login: Bool = false
    public var mirror: String?
    public var localRegistry: String?
    public var additionalArchitectures: [String] = []
    public var insecureRegistries: [String] = []

    public init() {}

    enum CodingKeys: String, CodingKey {
        case credentials, login, mirror, localRegistry = "local_registry"
        case additionalArchitectures = "additional_architectures", insecureRegistries = "insecure_registries"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        // Registry and user only: the password stays out of every output.
        try container.encode(credentials.mapValues(\.user), forKey: .credentials)
        try container.encode(login, forKey: .login)
        try container.encodeIfPresent(mirror, forKey: .mirror)
        try container.encodeIfPresent(localRegistry, forKey: .localRegistry)
        try container.encode(additionalArchitectures, forKey: .additionalArchitectures)
        try container.encode(insecureRegistries, forKey: .insecureRegistries)
    }
}

public struct RegistryCredential: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    public var description: String { "\(user):<redacted>" }
}

extension ConfigValue: Encodable {
    public func encode(to encoder: Encoder) throws {
        switch self {
        case .map(let entries):
            var keyed = encoder.container(keyedBy: DynamicKey.self)
            for entry in entries { try keyed.encode(entry.value, forKey: DynamicKey(entry.key)) }
        case .list(let items):
            var unkeyed = encoder.unkeyedContainer()
            for item in items { try unkeyed.encode(item) }
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let b):
            var container = encoder.singleValueContainer()
            try container.encode(b)
        case .number(let n):
            var container = encoder.singleValueContainer()
            if let i = Int(n) { try container.encode(i) } else if let d = Double(n) { try container.encode(d) } else { try container.encode(n) }
        case .string(let s):
            var container = encoder.singleValueContainer()
            try container.encode(s)
        }
    }

    private struct DynamicKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ key: String) { stringValue = key }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
