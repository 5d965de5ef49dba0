/// A planned image after the resolve stage: its discovered tag and whether
/// it is modified.
public struct ResolvedImage: Sendable, Equatable, Encodable {
    public var image: PlannedImage
    /// The versioned tag found through `tag_from_label`; nil keeps the tag
    /// the catalog gave.
    public var tag: String?
    public var modified: Bool
    /// The `tag_from_label` label the image lacks, when it kept its given
    /// tag for that reason (upstream's fallback).
    public var missingLabel: String?

    public init(image: PlannedImage, tag: String?, modified: Bool, missingLabel: String? = nil) {
        self.image = image
        self.tag = tag
        self.modified = modified
        self.missingLabel = missingLabel
    }

    /// The image as planned, with no registry consulted: tags stay as given
    /// and modifications that depend on labels are not assumed.
    public static func unresolved(_ image: PlannedImage) -> ResolvedImage {
        ResolvedImage(image: image, tag: nil, modified: image.modify.map { $0.onlyWithLabels.isEmpty } ?? false)
    }

    public var sourceName: String {
        tag.map { ImageName.withTag(image.imageName, $0) } ?? image.imageName
    }

    /// What the heat parameters point at.
    public var targetName: String {
        image.targetName(tag: tag) + (modified ? image.modify?.appendTag ?? "" : "")
    }

    enum CodingKeys: String, CodingKey {
        case image, tag, modified, sourceName = "source", targetName = "target", missingLabel = "missing_label"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(image, forKey: .image)
        try container.encodeIfPresent(tag, forKey: .tag)
        try container.encode(modified, forKey: .modified)
        try container.encode(sourceName, forKey: .sourceName)
        try container.encode(targetName, forKey: .targetName)
        try container.encodeIfPresent(missingLabel, forKey: .missingLabel)
    }
}

/// The documents `prepare` writes.
public enum PrepareOutput {
    /// Heat parameter -> image, a later entry's image winning, sorted by name: those of
    /// `ContainerImagePrepare`, or with `role`, those written as that `<Role>Parameters`.
    public static func parameters(_ images: [ResolvedImage], role: String? = nil) -> [(name: String, image: String)] {
        var values: [String: String] = [:]
        for image in images where image.image.roleParameters == role {
            for param in image.image.params { values[param] = image.targetName }
        }
        return values.keys.sorted().map { ($0, values[$0]!) }
    }

    /// The `<Role>Parameters` of roles' own `<Role>ContainerImagePrepare`, each with its
    /// image parameters, sorted by name.
    public static func roleParameters(_ images: [ResolvedImage]) -> [(name: String, parameters: [(name: String, image: String)])] {
        Set(images.compactMap(\.image.roleParameters)).sorted().map { ($0, parameters(images, role: $0)) }
    }

    /// Registries to list in `DockerInsecureRegistryAddress` (`host[:port]`
    /// only), upstream's rule in every mode: the registries of the written
    /// parameters that are insecure. Insecure are push destinations (unless a
    /// run reached one over verified TLS, `verified`), registries marked
    /// insecure (`marked`: `DockerInsecureRegistryAddress`,
    /// `--insecure-registry`) and registries a run reached without verified
    /// TLS; a source or mirror no parameter names is not listed.
    public static func insecureRegistries(
        _ images: [ResolvedImage], reachedInsecurely: [String] = [], verified: [String] = [], marked: [String] = []
    ) -> [String] {
        let written = Set((parameters(images) + roleParameters(images).flatMap(\.parameters)).map { ImageName.registryHost($0.image) })
        let destinations = Set(images.compactMap(\.image.pushDestination).map(ImageName.registryHost))
            .subtracting(verified.filter { !reachedInsecurely.contains($0) })
        return Array(destinations.union(reachedInsecurely).union(marked).intersection(written)).sorted()
    }

    /// The output env file: `parameter_defaults` with every image parameter
    /// and `DockerInsecureRegistryAddress`.
    public static func environment(
        _ images: [ResolvedImage], reachedInsecurely: [String] = [], verified: [String] = [], marked: [String] = []
    ) -> ConfigValue {
        var entries = parameters(images).map { ConfigEntry($0.name, .string($0.image)) }
        let insecure = insecureRegistries(images, reachedInsecurely: reachedInsecurely, verified: verified, marked: marked)
        if !insecure.isEmpty {
            entries.append(ConfigEntry("DockerInsecureRegistryAddress", .list(insecure.map(ConfigValue.string))))
        }
        for role in roleParameters(images) {
            entries.append(ConfigEntry(role.name, .map(role.parameters.map { ConfigEntry($0.name, .string($0.image)) })))
        }
        return .map([ConfigEntry("parameter_defaults", .map(entries))])
    }

    /// The output images file: one item per planned image, as upstream's
    /// upload list.
    public static func images(_ images: [ResolvedImage]) -> ConfigValue {
        .map([
            ConfigEntry(
                "container_images",
                .list(
                    images.map { resolved in
                        var fields = [ConfigEntry("imagename", .string(resolved.sourceName))]
                        if let source = resolved.image.source { fields.append(ConfigEntry("image_source", .string(source))) }
                        fields.append(ConfigEntry("params", .list(resolved.image.params.map(ConfigValue.string))))
                        if let pullSource = resolved.image.pullSource {
                            fields.append(ConfigEntry("pull_source", .string(pullSource)))
                        }
                        if let destination = resolved.image.pushDestination {
                            fields.append(ConfigEntry("push_destination", .string(destination)))
                        }
                        if let modify = resolved.image.modify, resolved.modified || !modify.onlyWithLabels.isEmpty {
                            fields.append(ConfigEntry("modify_role", .string(modify.role)))
                            fields.append(ConfigEntry("modify_append_tag", .string(modify.appendTag)))
                            fields.append(ConfigEntry("modify_vars", .map(modify.vars)))
                            if !modify.onlyWithLabels.isEmpty {
                                fields.append(ConfigEntry("modify_only_with_labels", .list(modify.onlyWithLabels.map(ConfigValue.string))))
                            }
                        }
                        fields.append(ConfigEntry("target", .string(resolved.targetName)))
                        return .map(fields)
                    })),
        ])
    }
}
