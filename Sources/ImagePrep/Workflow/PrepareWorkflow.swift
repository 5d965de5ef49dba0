import Foundation
import ImagePrepPlan

public struct PrepareOptions: Sendable {
    public var environmentFiles: [String] = []
    /// `--environment-directory`: their `*.yaml` files load, by name, before
    /// the `-e` files (as tripleoclient does).
    public var environmentDirectories: [String] = []
    /// `--roles-file`: a path, or one relative to `heatTemplatesDirectory`
    /// (as tripleoclient resolves it).
    public var rolesFile: String?
    /// Where tripleo-heat-templates is installed; its `roles_data.yaml` is
    /// the roles file when none is given and it exists (upstream's default).
    public var heatTemplatesDirectory = "/usr/share/openstack-tripleo-heat-templates"
    public var templateFile: String?
    public var catalog: Catalog = .stein
    /// `--catalog` was given: a template is rendered with that catalog's
    /// defaults only, not with those of the era it belongs to.
    public var catalogChosen = false
    public var outputEnvFile: String?
    public var outputImagesFile: String?
    /// The provenance report of modified images (JSON).
    public var reportFile: String?
    public var dryRun = false
    /// With `dryRun`: look tags and labels up (read-only: no copy, no build),
    /// so the plan and env file show what a real run would write.
    public var discover = false
    public var now = Date()
    public var hostsFile = "/etc/hosts"
    /// How a real run reaches registries.
    public var registry = RegistryOptions()
    /// How a real run modifies images.
    public var modification = ModificationOptions()
    /// `--from-bundle`: every source image is read from this bundle (a layout directory or a
    /// tar file), none from a registry.
    public var bundle: URL?

    public init() {}
}

public struct PrepareResult: Sendable, Encodable {
    public var dryRun: Bool
    /// A dry run that looked tags and labels up.
    public var discovered = false
    public var plan: PreparePlan
    public var images: [ResolvedImage]
    public var parameters: [String: String]
    /// `<Role>Parameters` (from roles' own `<Role>ContainerImagePrepare`) -> what the env file
    /// gives it: the role's image parameters and their `DockerInsecureRegistryAddress`.
    public var roleParameters: [String: ConfigValue] = [:]
    public var insecureRegistries: [String]
    /// The resolve stage's results (a real run, or a dry run with `--discover`).
    public var resolutions: [ImageResolution] = []
    /// The transfers of a real run: copies in plan order, then modifications.
    public var results: [ImageResult] = []
    public var notes = TransferNotes()
    /// The transfers' counts, bytes and time; nil when nothing was transferred.
    public var summary: TransferSummary?
    /// The roles file that filtered the images, if any.
    public var rolesFile: String?
    /// The output env file's YAML.
    public var environmentYAML: String

    /// Package changes of modified images, when asked for.
    public var packageChanges: [PackageChanges] {
        results.compactMap { result in
            if case .modified(let report) = result.outcome { return report.packageChanges }
            return nil
        }
    }

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run", discovered, plan, images, parameters, roleParameters = "role_parameters"
        case insecureRegistries = "insecure_registries"
        case packageChanges = "package_changes", rolesFile = "roles_file", summary
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dryRun, forKey: .dryRun)
        try container.encode(discovered, forKey: .discovered)
        try container.encode(plan, forKey: .plan)
        try container.encode(images, forKey: .images)
        try container.encode(parameters, forKey: .parameters)
        try container.encode(roleParameters, forKey: .roleParameters)
        try container.encode(insecureRegistries, forKey: .insecureRegistries)
        try container.encode(packageChanges, forKey: .packageChanges)
        try container.encodeIfPresent(rolesFile, forKey: .rolesFile)
        try container.encodeIfPresent(summary, forKey: .summary)
    }
}

/// `prepare` end to end: read inputs -> plan -> resolve -> transfer -> write
/// outputs. Output files are written only when every image succeeded.
public struct PrepareWorkflow: Sendable {
    public var options: PrepareOptions

    public init(options: PrepareOptions) {
        self.options = options
    }

    public func loadPlan() throws(PrepareError) -> PreparePlan {
        var environment = HeatEnvironment()
        var files: [String] = []
        for directory in options.environmentDirectories {
            files += try FileSystem.environmentFiles(in: directory)
        }
        files += options.environmentFiles
        for file in files {
            let text = try FileSystem.readText(file)
            do {
                try environment.merge(try ConfigDocument.parse(text, file: file), file: file)
            } catch {
                throw PrepareError.plan(error)
            }
        }
        var roles: [Role]?
        if let rolesFile = rolesFile() {
            let text = try FileSystem.readText(rolesFile)
            do {
                roles = try Role.parseRoles(try ConfigDocument.parse(text, file: rolesFile), file: rolesFile)
                // Upstream's build_service_filter: no roles (an empty roles file) filters nothing.
                if roles?.isEmpty == true { roles = nil }
            } catch {
                throw PrepareError.plan(error)
            }
        }
        var template: CatalogTemplate?
        if let templateFile = options.templateFile {
            let source = try FileSystem.readText(templateFile)
            do {
                template = try CatalogTemplate(source: source, file: templateFile) { path in
                    FileManager.default.fileExists(atPath: path) ? try FileSystem.readText(path) : nil
                }
            } catch {
                throw PrepareError.plan(error)
            }
        }
        let planner = Planner(
            environment: environment, roles: roles, catalog: options.catalog, template: template,
            undercloudRegistry: UndercloudRegistry.address(hostsFile: options.hostsFile), now: options.now,
            catalogChosen: options.catalogChosen)
        do {
            let plan = try planner.plan()
            try PlanChecks.check(plan, file: environment.file(of: "ContainerImagePrepare"))
            return plan
        } catch {
            throw PrepareError.plan(error)
        }
    }

    /// The roles file to use: `--roles-file` as given or under the heat
    /// templates, else the templates' `roles_data.yaml` when it exists,
    /// else none (every image is kept).
    public func rolesFile() -> String? {
        let fileManager = FileManager.default
        guard let given = options.rolesFile else {
            let standard = options.heatTemplatesDirectory + "/roles_data.yaml"
            return fileManager.fileExists(atPath: standard) ? standard : nil
        }
        if fileManager.fileExists(atPath: given) || given.hasPrefix("/") { return given }
        let underTemplates = options.heatTemplatesDirectory + "/" + given
        return fileManager.fileExists(atPath: underTemplates) ? underTemplates : given
    }

    /// Runs the prepare; `progress` gets the transfer stage's events as they happen.
    public func run(progress: @escaping @Sendable (ProgressEvent) -> Void = { _ in }) async throws(PrepareError)
        -> PrepareResult
    {
        let plan = try loadPlan()
        // A dry run reads the bundle only with --discover, as it reads registries.
        if let bundle = options.bundle, !options.dryRun || options.discover {
            return try await withBundle(bundle, plan: plan) { session throws(PrepareError) in
                guard options.dryRun else { return try await run(plan, resolver: session, transfer: session, progress: progress) }
                let locks = try lockOutputs()
                defer { withExtendedLifetime(locks) {} }
                var stages = StageResults()
                (stages.resolutions, stages.failures) = await PrepareStages(
                    resolver: session, transfer: session, concurrency: options.registry.concurrency
                ).resolve(plan)
                guard stages.failures.isEmpty else { throw PrepareError.imagesFailed(stages.failures) }
                return try write(plan: plan, stages: stages, summary: nil)
            }
        }
        if !options.dryRun && plan.needsRegistry {
            var modification = options.modification
            modification.reportPackageChanges = modification.reportPackageChanges || options.reportFile != nil
            let session = try RegistrySession(plan: plan, options: options.registry, modification: modification)
            return try await run(plan, resolver: session, transfer: session, progress: progress)
        }
        let locks = try lockOutputs()
        defer { withExtendedLifetime(locks) {} }
        var stages = StageResults()
        if options.dryRun && options.discover && plan.needsLookups {
            let session = try RegistrySession(
                plan: plan, options: options.registry, modification: options.modification, readsDestinations: false)
            (stages.resolutions, stages.failures) = await PrepareStages(
                resolver: session, transfer: session, concurrency: options.registry.concurrency
            ).resolve(plan)
            guard stages.failures.isEmpty else { throw PrepareError.imagesFailed(stages.failures) }
        } else if options.dryRun {
            stages.resolutions = plan.images.map { ImageResolution(resolved: .unresolved($0)) }
        } else {
            stages.resolutions = plan.images.map { ImageResolution(resolved: ResolvedImage(image: $0, tag: nil, modified: false)) }
        }
        return try write(plan: plan, stages: stages, summary: nil)
    }

    /// A real run's stages over `resolver` and `transfer`; the output files are written only
    /// when every image succeeded.
    public func run(
        _ plan: PreparePlan, resolver: some ImageResolver, transfer: some ImageTransfer,
        progress: @escaping @Sendable (ProgressEvent) -> Void = { _ in }
    ) async throws(PrepareError) -> PrepareResult {
        let locks = try lockOutputs()
        defer { withExtendedLifetime(locks) {} }
        let stages = await PrepareStages(resolver: resolver, transfer: transfer, concurrency: options.registry.concurrency)
            .run(plan, progress: progress)
        guard stages.failures.isEmpty else { throw PrepareError.imagesFailed(stages.failures) }
        return try write(plan: plan, stages: stages, summary: stages.summary)
    }

    private func lockOutputs() throws(PrepareError) -> OutputLocks {
        try FileSystem.lockOutputs([options.outputEnvFile, options.outputImagesFile, options.reportFile].compactMap { $0 })
    }

    /// Writes the outputs of a run whose every image succeeded.
    private func write(plan: PreparePlan, stages: StageResults, summary: TransferSummary?) throws(PrepareError)
        -> PrepareResult
    {
        let resolved = stages.resolutions.map(\.resolved)
        let (reachedInsecurely, verified) = (stages.notes.insecureRegistries, stages.notes.verifiedRegistries)
        let marked = plan.registry.insecureRegistries + options.registry.insecureRegistries
        let environment = PrepareOutput.environment(
            resolved, roleParameters: plan.roleParameters, reachedInsecurely: reachedInsecurely, verified: verified, marked: marked)
        let environmentYAML = ConfigDocument.serialize(environment)
        var result = PrepareResult(
            dryRun: options.dryRun, discovered: options.dryRun && options.discover, plan: plan, images: resolved,
            parameters: Dictionary(uniqueKeysWithValues: PrepareOutput.parameters(resolved).map { ($0.name, $0.image) }),
            roleParameters: Dictionary(uniqueKeysWithValues: plan.roleParameters.map { role in
                (role, ConfigValue.map(PrepareOutput.parameterEntries(
                    resolved, role: role, reachedInsecurely: reachedInsecurely, verified: verified, marked: marked)))
            }),
            insecureRegistries: PrepareOutput.insecureRegistries(
                resolved, reachedInsecurely: reachedInsecurely, verified: verified, marked: marked),
            resolutions: stages.resolutions, results: stages.results, notes: stages.notes, summary: summary,
            rolesFile: rolesFile(), environmentYAML: environmentYAML)
        // Encoded before any file is written: a report JSON cannot hold leaves every output as it was.
        var report: (path: String, data: Data)?
        if let path = options.reportFile {
            report = (path, try JSONReport.encode(["modified_images": result.packageChanges], what: path))
        }
        if let path = options.outputImagesFile {
            try FileSystem.writeAtomically(ConfigDocument.serialize(PrepareOutput.images(resolved)), to: path)
        }
        if let (path, data) = report {
            try FileSystem.writeAtomically(String(decoding: data, as: UTF8.self) + "\n", to: path)
        }
        if let path = options.outputEnvFile {
            try FileSystem.writeAtomically(environmentYAML, to: path)
        }
        result.environmentYAML = environmentYAML
        return result
    }

    /// The document `prepare default` writes, as YAML.
    public static func defaultDocument(catalog: Catalog, localPushDestination: Bool, registryLogin: Bool) -> String {
        ConfigDocument.serialize(
            DefaultPrepare.document(for: catalog, localPushDestination: localPushDestination, registryLogin: registryLogin))
    }

    public static func write(_ text: String, to path: String) throws(PrepareError) {
        try FileSystem.writeAtomically(text, to: path)
    }
}
