import Foundation
import ImagePrepPlan
import ImagePrepRegistry
import Logging

/// How a command reaches registries, decided in one place: registries.conf, the registries
/// reached insecurely, Docker Hub's mirror, and the one registry client made from them.
///
/// Reached insecurely (plain HTTP, or TLS without verification) are `--insecure-registry`,
/// registries.conf's `insecure = true` registries and mirrors, and for a prepare its
/// `ContainerImageRegistryInsecure`-style entries, a push destination on the undercloud's
/// port (8787) and a `DockerRegistryMirror` given as `http://`. Every other registry's TLS
/// is verified.
struct RegistryClientSetup {
    let registries: RegistriesConf
    /// Docker Hub's mirror (`DockerRegistryMirror`) as a registry host, without its scheme.
    let mirror: String?
    let client: RegistryClient

    init(options: RegistryOptions, plan: PreparePlan? = nil) throws(PrepareError) {
        registries = try RegistriesConf.load(path: options.registriesConfFile)
        var insecure = Set(options.insecureRegistries + registries.insecureRegistries)
        var mirror: String?
        if let plan {
            insecure.formUnion(plan.registry.insecureRegistries)
            insecure.formUnion(plan.pushDestinations.filter(UndercloudRegistry.isUndercloudPort))
            if let configured = plan.registry.mirror {
                var host = configured
                if host.hasPrefix("http://") {
                    host.removeFirst("http://".count)
                    insecure.insert(host.trimmingCharacters(in: CharacterSet(charactersIn: "/")))
                } else if host.hasPrefix("https://") {
                    host.removeFirst("https://".count)
                }
                mirror = host.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            }
        }
        self.mirror = mirror
        let credentials = plan?.registry.credentials.mapValues { (user: $0.user, password: $0.password) } ?? [:]
        client = try Self.makeClient(options: options, insecure: insecure, credentials: credentials)
    }

    /// Credentials from the command line, the environment, `--authfile` and the containers
    /// auth files (in that order of precedence over `credentials`, the plan's).
    private static func makeClient(
        options: RegistryOptions, insecure: Set<String>, credentials: [String: (user: String, password: String)]
    ) throws(PrepareError) -> RegistryClient {
        var authFiles = CredentialStore.defaultAuthFiles().filter { FileManager.default.fileExists(atPath: $0) }
        if let authFile = options.authFile { authFiles.insert(authFile, at: 0) }
        let store: CredentialStore
        do {
            // Command-line credentials win over the environment's and the auth files'.
            store = try CredentialStore(userPasswords: credentials.merging(options.credentials) { $1 }, authFiles: authFiles)
        } catch {
            throw PrepareError.unreadable(path: options.authFile ?? "containers auth file", reason: "\(error)")
        }
        var logger = Logger(label: "imageprep.registry")
        logger.logLevel = options.logLevel
        return RegistryClient(
            configuration: RegistryClient.Configuration(
                credentials: store, insecureRegistries: Set(insecure.map { $0.lowercased() }), caFile: options.caFile,
                maxConcurrentRequests: max(8, options.concurrency * 2),
                configCache: options.configCacheDirectory.map(ConfigBlobCache.init(directory:)),
                timeouts: TransferTimeouts(stall: options.stallTimeout, connect: min(.seconds(30), options.stallTimeout))),
            logger: logger)
    }
}
