import ImagePrepOCI

/// What a new prepare changes in the heat image parameters against the env file that was
/// deployed (an earlier prepare's `--output-env-file`): parameters whose value changes,
/// parameters added or removed, and parameters whose value stays while the image under
/// that tag changes. A value: the workflow fills in the digests from the registries, the
/// CLI renders it.
public struct ParameterDiff: Sendable, Equatable, Encodable {
    /// A parameter whose value changes.
    public struct Change: Sendable, Equatable, Encodable {
        public var name: String
        public var old: String
        public var new: String

        public init(name: String, old: String, new: String) {
            self.name = name
            self.old = old
            self.new = new
        }
    }

    /// A parameter only one side has.
    public struct Parameter: Sendable, Equatable, Encodable {
        public var name: String
        public var image: String

        public init(name: String, image: String) {
            self.name = name
            self.image = image
        }
    }

    /// A parameter whose value stays while the image its tag names changes (the same tag,
    /// new content).
    public struct DigestChange: Sendable, Equatable, Encodable {
        public var name: String
        public var image: String
        /// What the push destination holds under the tag now, which is what the deployment
        /// pulls; nil when it holds nothing there.
        public var deployed: Digest?
        /// What a prepare would put there.
        public var new: Digest

        public init(name: String, image: String, deployed: Digest?, new: Digest) {
            self.name = name
            self.image = image
            self.deployed = deployed
            self.new = new
        }

        enum CodingKeys: String, CodingKey {
            case name, image, deployed, new
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(image, forKey: .image)
            // null, not left out: the destination has no image under that name.
            try container.encode(deployed, forKey: .deployed)
            try container.encode(new, forKey: .new)
        }
    }

    /// Sorted by name, as every list here.
    public var changed: [Change] = []
    public var added: [Parameter] = []
    public var removed: [Parameter] = []
    public var digestChanged: [DigestChange] = []
    /// The parameters whose value stays.
    public var unchanged: [String] = []

    /// The value differences between the `deployed` parameters and the `new` ones; no
    /// digest change yet (the registries tell those).
    public init(deployed: [String: String], new: [String: String]) {
        for name in Set(deployed.keys).union(new.keys).sorted() {
            switch (deployed[name], new[name]) {
            case (let old?, let value?) where old == value: unchanged.append(name)
            case (let old?, let value?): changed.append(Change(name: name, old: old, new: value))
            case (nil, let value?): added.append(Parameter(name: name, image: value))
            case (let old?, nil): removed.append(Parameter(name: name, image: old))
            case (nil, nil): break
            }
        }
    }

    /// No parameter and no image changes.
    public var isEmpty: Bool { changed.isEmpty && added.isEmpty && removed.isEmpty && digestChanged.isEmpty }

    enum CodingKeys: String, CodingKey {
        case changed, added, removed, unchanged
        case digestChanged = "digest_changed"
    }

    /// The name a diff gives `parameter`: as it is, or, written in the `<Role>Parameters`
    /// mapping `role`, `<Role>Parameters.<parameter>`.
    public static func name(_ parameter: String, role: String?) -> String {
        role.map { "\($0).\(parameter)" } ?? parameter
    }

    /// Every parameter a prepare writes for `images`, under its ``name(_:role:)``: those of
    /// `ContainerImagePrepare`, then those of each of `roleParameters` (`<Role>Parameters`).
    public static func parameters(_ images: [ResolvedImage], roleParameters: [String]) -> [String: String] {
        var parameters: [String: String] = [:]
        for role in [nil] + roleParameters.map(Optional.some) {
            for (parameter, image) in PrepareOutput.parameters(images, role: role) { parameters[name(parameter, role: role)] = image }
        }
        return parameters
    }

    /// The image parameters of a deployed env file: every `parameter_defaults` key ending in
    /// `Image` (as heat names every image parameter) or among `names` (the ones the new
    /// prepare writes, whatever a template calls them); other parameters are left alone.
    /// With `roleParameters`, also those of each `<Role>Parameters` mapping (a key ending in
    /// `Parameters` whose value is a mapping, where prepare writes a role's own images), under
    /// their ``name(_:role:)``.
    /// Anything but a mapping with at least one such string is an error naming the file.
    public static func deployedParameters(
        _ document: ConfigValue, file: String, names: Set<String> = [], roleParameters: Bool = false
    ) throws(PlanError) -> [String: String] {
        let expected = "the image parameters of an earlier prepare's --output-env-file (such as ContainerNovaApiImage: host/namespace/name:tag)"
        guard case .map = document else {
            throw PlanError.invalidValue(file: file, key: "parameter_defaults", expected: expected, found: "\(document.kindDescription) as the document")
        }
        guard let defaults = document["parameter_defaults"] else {
            throw PlanError.invalidValue(file: file, key: "parameter_defaults", expected: expected, found: "no parameter_defaults")
        }
        guard case .map(let entries) = defaults else {
            throw PlanError.invalidValue(file: file, key: "parameter_defaults", expected: expected, found: defaults.kindDescription)
        }
        var parameters: [String: String] = [:]
        func read(_ entries: [ConfigEntry], role: String?) throws(PlanError) {
            for entry in entries where entry.key.hasSuffix("Image") || names.contains(entry.key) {
                let parameter = name(entry.key, role: role)
                guard case .string(let image) = entry.value, !image.isEmpty else {
                    let found = entry.value == .string("") ? "an empty string" : entry.value.kindDescription
                    throw PlanError.invalidValue(
                        file: file, key: "parameter_defaults.\(parameter)", expected: "an image such as host/namespace/name:tag",
                        found: found)
                }
                parameters[parameter] = image
            }
        }
        try read(entries, role: nil)
        if roleParameters {
            for entry in entries where entry.key.hasSuffix("Parameters") {
                guard case .map(let roleEntries) = entry.value else { continue }
                try read(roleEntries, role: entry.key)
            }
        }
        guard !parameters.isEmpty else {
            throw PlanError.invalidValue(file: file, key: "parameter_defaults", expected: expected, found: "none")
        }
        return parameters
    }
}
