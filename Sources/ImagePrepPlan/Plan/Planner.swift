import Foundation

/// Turns a merged heat environment into a `PreparePlan`: renders the catalog
/// for each `ContainerImagePrepare` entry, filters by includes, excludes and
/// enabled services, and settles push destinations and modifications.
public struct Planner: Sendable {
    public var environment: HeatEnvironment
    /// Roles of `--roles-file`; nil keeps every image.
    public var roles: [Role]?
    public var catalog: Catalog
    /// An operator's template, rendered instead of the catalog's images.
    public var template: CatalogTemplate?
    /// Where `push_destination: true` goes when `LocalContainerRegistry` is
    /// not set (the undercloud's registry, `HOST:8787`).
    public var undercloudRegistry: String
    /// The time of the run, for the default `modify_append_tag`.
    public var now: Date
    /// `--catalog` was given. Otherwise a template whose variables the
    /// catalog's defaults leave undefined is rendered with the defaults of
    /// the catalog of its era (`overcloud_containers.yaml.j2` -> stein,
    /// `tripleo_containers.yaml.j2` -> master), whichever defines them.
    public var catalogChosen: Bool
    /// The parameter whose entries are planned: `ContainerImagePrepare`, or for a role's own
    /// images `<Role>ContainerImagePrepare`.
    public var prepareParameter = "ContainerImagePrepare"

    public static let modifyRole = "tripleo-modify-image"
    /// The role's package name, accepted as the built-in role too.
    public static let modifyRoleAlias = "ansible-role-tripleo-modify-image"

    public init(
        environment: HeatEnvironment, roles: [Role]? = nil, catalog: Catalog = .stein, template: CatalogTemplate? = nil,
        undercloudRegistry: String = "localhost:8787", now: Date = Date(), catalogChosen: Bool = false
    ) {
        self.catalogChosen = catalogChosen
        self.environment = environment
        self.roles = roles
        self.catalog = catalog
        self.template = template
        self.undercloudRegistry = undercloudRegistry
        self.now = now
    }

    /// The plan of `ContainerImagePrepare`, then, as tripleo-ansible's deploy-time prepare
    /// does, for each role of the roles file whose `<Role>ContainerImagePrepare` is set in
    /// `parameter_defaults`, that parameter's entries planned for that role's services alone,
    /// their images written as `<Role>Parameters`.
    public func plan() throws(PlanError) -> PreparePlan {
        var plan = try planOfParameter()
        guard prepareParameter == "ContainerImagePrepare", let roles else { return plan }
        for role in roles {
            let parameter = "\(role.name)ContainerImagePrepare"
            guard let value = environment.parameterDefault(parameter), value.isPythonTrue else { continue }
            var planner = self
            planner.roles = [role]
            planner.prepareParameter = parameter
            let rolePlan = try planner.planOfParameter()
            let name = "\(role.name)Parameters"
            plan.roleParameters.append(name)
            plan.images += rolePlan.images.map { image in
                var image = image
                image.roleParameters = name
                return image
            }
            plan.warnings += rolePlan.warnings
        }
        return plan
    }

    private func planOfParameter() throws(PlanError) -> PreparePlan {
        guard let template, !catalogChosen else { return try plan(with: catalog) }
        return try plan(with: era(of: template))
    }

    /// The catalog whose defaults a template renders with: the first (the
    /// chosen catalog, then the others) whose defaults leave none of the
    /// template's variables undefined that another catalog's defaults define.
    /// From the template alone: what an entry's `set` gives never changes it.
    /// A variable no catalog defines (only a `set` can give it) counts for none.
    func era(of template: CatalogTemplate) -> Catalog {
        let candidates = [catalog] + Catalog.all.filter { $0.name != catalog.name }
        for candidate in candidates {
            var planner = self
            planner.catalog = candidate
            var context = planner.templateContext(for: PrepareEntry(index: 0), neutronDriver: "ovn")
            // Each round names one more variable; a template has far fewer than this.
            for _ in 0..<1000 {
                guard let missing = template.undefinedVariable(context) else { return candidate }
                if candidates.contains(where: { $0.defaults[missing] != nil }) { break }
                context[missing] = .string("")
            }
        }
        return catalog
    }

    private func plan(with catalog: Catalog) throws(PlanError) -> PreparePlan {
        var planner = self
        planner.catalog = catalog
        return try planner.planWithCatalog()
    }

    private func planWithCatalog() throws(PlanError) -> PreparePlan {
        let registry = try RegistrySettings(environment: environment)
        let entries: [PrepareEntry]
        // Upstream's `if not cip`: null, [], {}, '', false and 0 all mean the default entry.
        if let value = environment.parameter(prepareParameter), value.isPythonTrue {
            entries = try PrepareEntry.parseAll(value, file: environment.file(of: prepareParameter), parameter: prepareParameter)
        } else {
            entries = [try PrepareEntry.parse(DefaultPrepare.entry(for: catalog, localPushDestination: false), index: 0, file: "default")]
        }
        let enabledServices = try roles.map { roles throws(PlanError) in
            try ServiceFilter.enabledServices(roles: roles, environment: environment)
        }
        let neutronDriver = try derivedNeutronDriver()
        let file = environment.file(of: prepareParameter)

        var images: [PlannedImage] = []
        var warnings: [String] = []
        // Upstream's container_images_prepare_multi: AdditionalArchitectures
        // makes images multi-arch until an entry has a multi_arch key; from
        // that entry on, none is.
        var multiArch = !registry.additionalArchitectures.isEmpty
        for entry in entries {
            if multiArch && entry.hasMultiArchKey { multiArch = false }
            if let pullSource = entry.pullSource {
                warnings.append(
                    "\(file): ContainerImagePrepare[\(entry.index)].pull_source is deprecated: images are pulled from \(pullSource)/<image name>; put the registry in 'set' (namespace) instead")
            }
            warnings += entry.yaml11Surprises(file: file)
            // Parsed once, for the plan; an entry that prepares no image is not checked.
            let parsedTemplate = entry.tagFromLabel.map { label in Result { try TagTemplate(label) } }
            func tagTemplate() throws(PlanError) -> TagTemplate? {
                do {
                    return try parsedTemplate?.get()
                } catch {
                    throw PlanError.unsupported(
                        file: file, key: "ContainerImagePrepare[\(entry.index)].tag_from_label", reason: "\(error)")
                }
            }
            let context = templateContext(for: entry, neutronDriver: neutronDriver)
            let rendered = try template?.entries(context) ?? catalog.entries(context)
            let pushDestination = entry.pushDestination.map { destination -> String in
                switch destination {
                case .registry(let address): return address
                case .undercloud: return registry.localRegistry.map { "\($0):8787" } ?? undercloudRegistry
                }
            }
            let modify = try modifyRequest(for: entry, pushDestination: pushDestination, file: file)
            if let modify, modify.task != nil {
                warnings += ModifyTask.unknownVariables(modify.vars).map {
                    "\(file): \(entry.key).modify_vars.\($0) is not a variable of tripleo-modify-image: it is ignored"
                }
            }
            for image in rendered where Self.keeps(image, entry: entry, enabledServices: enabledServices) {
                let imageModify = Self.modify(image, request: modify, entry: entry)
                let modifiesThis = imageModify != nil
                if modifiesThis && multiArch {
                    throw PlanError.unsupported(
                        file: file, key: entry.key,
                        reason: "Cannot run a modify role on multi-arch image \(image.imageName): AdditionalArchitectures prepares every architecture; give the entry a multi_arch key to prepare one")
                }
                if ImageName.isLocal(image.imageName) {
                    try Self.checkLocal(image.imageName, modified: modifiesThis, pushDestination: pushDestination, entry: entry, file: file)
                }
                var planned = PlannedImage(
                    entry: entry.index, imageName: image.imageName, source: image.source, params: image.params,
                    pushDestination: pushDestination, tagFromLabel: try tagTemplate(),
                    modify: imageModify, multiArch: multiArch, pullSource: entry.pullSource)
                try Self.parseNames(of: &planned, entry: entry, file: file)
                images.append(planned)
            }
        }
        return PreparePlan(catalog: template?.template.file ?? catalog.name, images: images, registry: registry, warnings: warnings)
    }

    /// The template variables of one entry: the catalog's defaults, then the
    /// entry's `set`, with upstream's adjustments.
    public func templateContext(for entry: PrepareEntry, neutronDriver: String) -> TemplateContext {
        var context = catalog.defaults
        for value in entry.set { context[value.key] = TemplateValue(value.value) }
        // Upstream hyphenates strings only; a number that is zero (the only one
        // upstream accepts here, see PrepareEntry) renders as it is.
        let numeric = Set(entry.set.filter { if case .number = $0.value { true } else { false } }.map(\.key))
        switch context["name_prefix"] {
        case .string(let prefix) where !prefix.isEmpty && !prefix.hasSuffix("-") && !numeric.contains("name_prefix"):
            context["name_prefix"] = .string(prefix + "-")
        case .null, nil: context["name_prefix"] = .string("")
        default: break
        }
        switch context["name_suffix"] {
        case .string(let suffix) where !suffix.isEmpty && !suffix.hasPrefix("-") && !numeric.contains("name_suffix"):
            context["name_suffix"] = .string("-" + suffix)
        case .null, nil: context["name_suffix"] = .string("")
        default: break
        }
        if case .string(let driver)? = context["neutron_driver"], !driver.isEmpty {
            // set explicitly by the entry
        } else {
            context["neutron_driver"] = .string(neutronDriver)
        }
        return context
    }

    /// `neutron_driver` for entries that leave it unset: `ovn` when
    /// `NeutronMechanismDrivers` names ovn or is absent, else `other`.
    public func derivedNeutronDriver() throws(PlanError) -> String {
        guard let value = environment.parameter("NeutronMechanismDrivers"), value != .null else { return "ovn" }
        let drivers = try RegistrySettings.list(value, file: environment.file(of: "NeutronMechanismDrivers"), key: "NeutronMechanismDrivers")
        return drivers.contains { $0.contains("ovn") } ? "ovn" : "other"
    }

    /// Upstream's filter: services first, then any include match keeps an
    /// image (excludes ignored), no include match drops it; otherwise any
    /// exclude match drops it. Patterns are Python regular-expression searches.
    static func keeps(_ image: CatalogEntry, entry: PrepareEntry, enabledServices: Set<String>?) -> Bool {
        if let enabledServices, enabledServices.isDisjoint(with: image.services) { return false }
        if !entry.includes.isEmpty {
            return entry.includes.contains { search($0, in: image.imageName) }
        }
        return !entry.excludes.contains { search($0, in: image.imageName) }
    }

    static func search(_ pattern: String, in text: String) -> Bool {
        // Patterns were checked when the entry was parsed.
        (try? PythonRegex(pattern))?.search(text) ?? false
    }

    /// A locally built image (`containers-storage:`) is copied to a push destination as it is,
    /// as upstream does: it cannot be modified, and without a destination nothing could
    /// deploy it.
    private static func checkLocal(
        _ name: String, modified: Bool, pushDestination: String?, entry: PrepareEntry, file: String
    ) throws(PlanError) {
        let key = entry.key
        if modified {
            throw PlanError.unsupported(
                file: file, key: "\(key).modify_role",
                reason: "\(name) is a locally built image: local images are copied as they are, not modified (build the change into the image, or modify a registry image)")
        }
        if pushDestination == nil {
            throw PlanError.unsupported(
                file: file, key: key,
                reason: "\(name) is in local container storage: it needs a push_destination to be deployable")
        }
    }
}
