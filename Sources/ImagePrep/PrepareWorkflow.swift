import Foundation
import ImagePrepPlan

public struct PrepareOptions: Sendable {
    public var environmentFiles: [String] = []
    public var environmentDirectory: String?
    public var rolesFile: String?
    public var templateFile: String?
    public var catalog: Catalog = .stein
    public var outputEnvFile: String?
    public var outputImagesFile: String?
    /// The provenance report of modified images (JSON).
    public var reportFile: String?
    public var dryRun = false
    public var now = Date()
    public var hostsFile = "/etc/hosts"
    /// Registry and build settings of a real run.
    public var registry = RegistryOptions()

    public init() {}
}

public struct PrepareResult: Sendable, Encodable {
    public var dryRun: Bool
    public var plan: PreparePlan
    public var images: [ResolvedImage]
    public var parameters: [String: String]
    public var insecureRegistries: [String]
    public var report: [String]
    public var packageChanges: [PackageChanges]
    /// The output env file's YAML.
    public var environmentYAML: String

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run", plan, images, parameters, insecureRegistries = "insecure_registries", report
        case packageChanges = "package_changes"
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
        var files = options.environmentFiles
        if let directory = options.environmentDirectory {
            files += try FileSystem.environmentFiles(in: directory)
        }
        for file in files {
            let text = try FileSystem.readText(file)
            do {
                try environment.merge(try ConfigDocument.parse(text, file: file), file: file)
            } catch {
                throw PrepareError.plan(error)
            }
        }
        var roles: [Role]?
        if let rolesFile = options.rolesFile {
            let text = try FileSystem.readText(rolesFile)
            do {
                roles = try Role.parseRoles(try ConfigDocument.parse(text, file: rolesFile), file: rolesFile)
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
            undercloudRegistry: UndercloudRegistry.address(hostsFile: options.hostsFile), now: options.now)
        do {
            return try planner.plan()
        } catch {
            throw PrepareError.plan(error)
        }
    }

    public func run() async throws(PrepareError) -> PrepareResult {
        let plan = try loadPlan()
        let locks = try FileSystem.lockOutputs(
            [options.outputEnvFile, options.outputImagesFile, options.reportFile].compactMap { $0 })
        defer { withExtendedLifetime(locks) {} }
        var resolved: [ResolvedImage]
        var outcome = TransferOutcome()
        if options.dryRun {
            resolved = plan.images.map(ResolvedImage.unresolved)
        } else if !plan.needsRegistry {
            resolved = plan.images.map { ResolvedImage(image: $0, tag: nil, modified: false) }
        } else {
            var registryOptions = options.registry
            registryOptions.reportPackageChanges = registryOptions.reportPackageChanges || options.reportFile != nil
            let session = try RegistrySession(plan: plan, options: registryOptions)
            var failures: [ImageFailure] = []
            resolved = []
            for result in await session.resolve(plan) {
                switch result {
                case .success(let image): resolved.append(image)
                case .failure(let failure): failures.append(failure)
                }
            }
            outcome = await session.transfer(resolved, plan: plan)
            failures += outcome.failures
            guard failures.isEmpty else { throw PrepareError.imagesFailed(failures) }
        }

        let environment = PrepareOutput.environment(resolved, reachedInsecurely: outcome.insecureRegistries)
        let environmentYAML = ConfigDocument.serialize(environment)
        if let path = options.outputImagesFile {
            try FileSystem.writeAtomically(ConfigDocument.serialize(PrepareOutput.images(resolved)), to: path)
        }
        if let path = options.reportFile {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = (try? encoder.encode(["modified_images": outcome.packageChanges])) ?? Data()
            try FileSystem.writeAtomically(String(decoding: data, as: UTF8.self) + "\n", to: path)
        }
        if let path = options.outputEnvFile {
            try FileSystem.writeAtomically(environmentYAML, to: path)
        }
        return PrepareResult(
            dryRun: options.dryRun, plan: plan, images: resolved,
            parameters: Dictionary(uniqueKeysWithValues: PrepareOutput.parameters(resolved).map { ($0.name, $0.image) }),
            insecureRegistries: PrepareOutput.insecureRegistries(resolved, reachedInsecurely: outcome.insecureRegistries),
            report: outcome.report, packageChanges: outcome.packageChanges, environmentYAML: environmentYAML)
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
