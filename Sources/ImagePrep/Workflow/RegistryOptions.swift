import Foundation
import ImagePrepBuild
import ImagePrepRegistry
import Logging

/// How a run reaches registries: TLS, credentials, registries.conf, concurrency, caches,
/// timeouts, and where an image-serve destination's files go.
public struct RegistryOptions: Sendable {
    /// `--insecure-registry HOST[:PORT]`, besides `DockerInsecureRegistryAddress`,
    /// `insecure = true` in registries.conf and a push destination on the undercloud's `:8787`.
    public var insecureRegistries: [String] = []
    public var caFile: String?
    /// `--authfile`, read before the default containers auth files.
    public var authFile: String?
    /// `--registries-conf`: read this file instead of `$CONTAINERS_REGISTRIES_CONF` or
    /// `/etc/containers/registries.conf`.
    public var registriesConfFile: String?
    /// Images resolved or copied at once.
    public var concurrency = 4
    /// The registry client's log level (requests, retries, copies).
    public var logLevel: Logger.Level = .warning
    /// Where image config blobs are cached by digest between runs; nil for no cache.
    public var configCacheDirectory: URL? = ConfigBlobCache.defaultDirectory()
    /// Where the images of a destination without a push API (the undercloud's image-serve
    /// registry) are written (`--image-serve-dir`).
    public var imageServeDirectory = URL(fileURLWithPath: "/var/lib/image-serve")
    /// A transfer that moves no byte for this long is aborted and retried (`--stall-timeout`);
    /// also the longest wait for a connection, up to 30 s.
    public var stallTimeout: Duration = .seconds(30)
    /// The most bytes of rpmdb files a package inventory extracts from a layer, each and in all (`--max-rpmdb-size`).
    public var maxDatabaseSize: Int64 = 2 << 30
    /// Credentials given on the command line (`--username`/`--password`, as upstream's image
    /// commands take them), `registry: (user, password)`; they win over the auth files.
    public var credentials: [String: (user: String, password: String)] = [:]

    public init() {}
}

/// How images are modified: the engine, buildah's storage and cleanup, build directories,
/// and the hotfix and package-change checks around a modification.
public struct ModificationOptions: Sendable {
    public var buildah = Buildah()
    public var cleanup: Cleanup = .full
    public var keepBuildDirectory = false
    public var workDirectory = FileManager.default.temporaryDirectory
    /// rpm_install modifies only images that already have a package named
    /// like one of the hotfix RPMs.
    public var onlyImagesWithPackages = false
    /// Compare package inventories before and after each modification.
    public var reportPackageChanges = false
    /// Which engine modifies images (`--engine`).
    public var engine: ModifyEngine = .auto
    /// Layer engine: keep the copied files' modification times.
    public var keepSourceMtimes = false
    /// `--roles-path`: searched for an operator's `modify_role` before `ANSIBLE_ROLES_PATH`
    /// and the default role directories.
    public var rolesPath: [String] = []
    /// How many buildah builds (and ansible-playbook runs) may run at once
    /// (`--build-concurrency`); layer-engine modifications are not counted.
    public var buildConcurrency = ModificationOptions.defaultBuildConcurrency()

    public init() {}

    /// tripleo-common's upload executor sizing (`min(max(2, cores / 2), 8)`), bounded by
    /// memory: one build per GiB available, at least one.
    public static func defaultBuildConcurrency(
        cores: Int = ProcessInfo.processInfo.activeProcessorCount, availableMemory: UInt64? = availableMemory()
    ) -> Int {
        let upstream = min(max(2, cores / 2), 8)
        guard let availableMemory else { return upstream }
        return max(1, min(upstream, Int(clamping: availableMemory / (1 << 30))))
    }

    /// `MemAvailable` of /proc/meminfo, in bytes.
    public static func availableMemory() -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
            let kib = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) })
        else { return nil }
        return kib.multipliedReportingOverflow(by: 1024).overflow ? nil : kib * 1024
    }
}
