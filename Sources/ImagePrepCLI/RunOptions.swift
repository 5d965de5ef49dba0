import ArgumentParser
import Foundation
import ImagePrep
import ImagePrepBuild
import Logging

/// Options of runs that reach registries.
struct RegistryOptionGroup: ParsableArguments {
    @Option(
        name: .customLong("insecure-registry"),
        help: ArgumentHelp("Reach this registry over plain HTTP or unverified TLS (repeatable); other registries, push destinations included, get verified TLS. DockerInsecureRegistryAddress, insecure = true in registries.conf and a push destination on the undercloud's port 8787 are insecure already.", valueName: "host[:port]"))
    var insecureRegistries: [String] = []

    @Option(name: .customLong("ca-cert"), help: ArgumentHelp("Also trust the CA certificates in this PEM file.", valueName: "file"))
    var caCert: String?

    @Option(help: ArgumentHelp("Registry credentials file (containers auth.json format), read before the default ones.", valueName: "file"))
    var authfile: String?

    @Option(help: ArgumentHelp("Read this registries.conf (insecure and blocked registries, mirrors) instead of $CONTAINERS_REGISTRIES_CONF or /etc/containers/registries.conf.", valueName: "file"))
    var registriesConf: String?

    @Option(help: "Images resolved or copied at once.")
    var concurrency = 4

    @Flag(help: "Log registry requests, retries and copies.")
    var verbose = false

    @Option(help: ArgumentHelp("Keep image config blobs here, by digest, between runs (default: $XDG_CACHE_HOME/imageprep or ~/.cache/imageprep).", valueName: "dir"))
    var cacheDir: String?

    @Flag(help: "Fetch every image config again instead of using the cache.")
    var noCache = false

    @Option(help: ArgumentHelp("Write the images of a destination that has no push API (the undercloud's image-serve registry on :8787) into this directory, which its httpd serves.", valueName: "dir"))
    var imageServeDir = "/var/lib/image-serve"

    @Option(help: ArgumentHelp("Abort and retry a transfer that moves no byte for this long, waiting for an answer included; also the longest wait for a connection.", valueName: "seconds"))
    var stallTimeout = 30

    @Option(help: ArgumentHelp("Package inventories (image packages, hotfix plan, --only-images-with-packages, compare_host_packages, --report): the most bytes of rpm database files read from a layer, each file and all of them together.", valueName: "MiB"))
    var maxRpmdbSize = 2048

    func validate() throws {
        guard concurrency >= 1, concurrency <= 64 else { throw ValidationError("--concurrency must be between 1 and 64") }
        guard maxRpmdbSize >= 1, maxRpmdbSize <= 1 << 20 else { throw ValidationError("--max-rpmdb-size must be between 1 and 1048576 MiB") }
        guard stallTimeout >= 1, stallTimeout <= 3600 else { throw ValidationError("--stall-timeout must be between 1 and 3600 seconds") }
    }
}

/// Options of image modification with buildah.
/// Which local container storage buildah uses (default: the host's, as podman's).
struct LocalStorageOptionGroup: ParsableArguments {
    @Option(help: ArgumentHelp("buildah storage driver (vfs works everywhere as root).", valueName: "driver"))
    var storageDriver: String?

    @Option(help: ArgumentHelp("buildah storage root, for a private storage.", valueName: "dir"))
    var buildahRoot: String?

    @Option(help: ArgumentHelp("buildah run root, for a private storage.", valueName: "dir"))
    var buildahRunroot: String?

    var buildah: Buildah {
        Buildah(root: buildahRoot, runRoot: buildahRunroot, storageDriver: storageDriver)
    }
}

struct BuildOptionGroup: ParsableArguments {
    @OptionGroup var storage: LocalStorageOptionGroup

    @Option(help: ArgumentHelp("buildah isolation for RUN steps (chroot works without a daemon).", valueName: "kind"))
    var isolation: String?

    @Option(help: "What to remove from buildah's storage after a build: full (pulled base and built image), partial (pulled base; the built image stays under its target name), none.")
    var cleanup: CleanupName = .full

    @Flag(help: "Keep each image's build directory (Dockerfile.modified, inputs, buildah.log).")
    var keepBuildDir = false

    @Flag(help: "rpm_install: modify only images that already have a package named like one of the hotfix RPMs.")
    var onlyImagesWithPackages = false

    @Option(help: ArgumentHelp("Where build directories go.", valueName: "dir"))
    var workDir: String?

    @Option(help: "Which engine modifies images: auto (the layer engine for a modify_image Dockerfile that runs nothing and for rpm_install RPMs without scriptlets, buildah otherwise), buildah, layer, or ansible (the upstream tripleo-modify-image role itself through ansible-playbook, found as --roles-path says; pip install ansible-role-tripleo-modify-image==1.5.0).")
    var engine: EngineName = .auto

    @Flag(help: "Layer engine: keep the copied files' modification times (default: the base image's creation time).")
    var keepFileMtimes = false

    @Option(name: .customLong("roles-path"), help: ArgumentHelp("A modify_role other than tripleo-modify-image (and tripleo-modify-image with --engine ansible) runs through ansible-playbook: look for it in this directory first (repeatable), then $ANSIBLE_ROLES_PATH, ~/.ansible/roles, /usr/share/ansible/tripleo-roles, /usr/share/ansible/roles, /etc/ansible/roles.", valueName: "dir"))
    var rolesPath: [String] = []

    @Option(help: ArgumentHelp("How many buildah builds (and ansible-playbook runs) at once (default: as tripleo-common sizes its uploads, min(max(2, cores/2), 8), one per GiB of available memory); builds sharing a yum_cache still run one at a time, and ansible-playbook runs alone.", valueName: "n"))
    var buildConcurrency: Int?

    mutating func validate() throws {
        if let n = buildConcurrency, !(1...64).contains(n) {
            throw ValidationError("--build-concurrency expects a number from 1 to 64, got \(n)")
        }
    }

    var buildah: Buildah {
        var buildah = storage.buildah
        buildah.isolation = isolation
        return buildah
    }
}

enum EngineName: String, ExpressibleByArgument, CaseIterable {
    case auto, buildah, layer, ansible

    var engine: ModifyEngine { ModifyEngine(rawValue: rawValue)! }
}

enum CleanupName: String, ExpressibleByArgument, CaseIterable {
    case full, partial, none

    var cleanup: Cleanup { Cleanup(rawValue: rawValue)! }
}

extension RegistryOptions {
    init(_ registry: RegistryOptionGroup) {
        self.init()
        insecureRegistries = registry.insecureRegistries
        caFile = registry.caCert
        authFile = registry.authfile
        registriesConfFile = registry.registriesConf
        concurrency = registry.concurrency
        imageServeDirectory = URL(fileURLWithPath: registry.imageServeDir)
        stallTimeout = .seconds(registry.stallTimeout)
        maxDatabaseSize = Int64(registry.maxRpmdbSize) << 20
        logLevel = registry.verbose ? .debug : .warning
        if registry.noCache {
            configCacheDirectory = nil
        } else if let directory = registry.cacheDir {
            configCacheDirectory = URL(fileURLWithPath: directory)
        }
    }
}

extension ModificationOptions {
    init(_ build: BuildOptionGroup) {
        self.init()
        buildah = build.buildah
        cleanup = build.cleanup.cleanup
        keepBuildDirectory = build.keepBuildDir
        onlyImagesWithPackages = build.onlyImagesWithPackages
        engine = build.engine.engine
        keepSourceMtimes = build.keepFileMtimes
        rolesPath = build.rolesPath.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if let n = build.buildConcurrency { buildConcurrency = n }
        if let dir = build.workDir { workDirectory = URL(fileURLWithPath: dir) }
    }
}
