import Foundation
import ImagePrepBuild
import Logging
import Synchronization
import ImagePrepPlan
import ImagePrepRegistry

/// Settings of a real (not dry) run that the environment does not give.
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
    public var buildah = Buildah()
    public var cleanup: Cleanup = .full
    public var keepBuildDirectory = false
    public var workDirectory = FileManager.default.temporaryDirectory
    /// Per-image lines on standard error as images finish.
    public var progress = false
    /// rpm_install modifies only images that already have a package named
    /// like one of the hotfix RPMs.
    public var onlyImagesWithPackages = false
    /// Compare package inventories before and after each modification.
    public var reportPackageChanges = false
    /// Which engine modifies images (`--engine`).
    public var engine: ModifyEngine = .auto
    /// Layer engine: keep the copied files' modification times.
    public var keepSourceMtimes = false
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
    /// The largest rpmdb file a package inventory extracts from a layer (`--max-rpmdb-size`).
    public var maxDatabaseSize: Int64 = 2 << 30

    public init() {}
}

/// The registry stages of a real run, over one registry client (shared
/// connections, tokens and blob transfers): tag discovery, copies, and
/// modifications built with buildah and pushed by the client.
public final class RegistrySession: ImageResolver, ImageTransfer {
    let client: RegistryClient
    let copier: ImageCopier
    let buildSlot = ConcurrencyLimiter(limit: 1)
    let options: RegistryOptions
    let insecure: Set<String>
    let mirror: String?
    /// registries.conf: blocked registries and mirrors for the source reads.
    let sources: PullSources
    let hotfixes: HotfixPlanner
    let tags: TagLookup
    /// Per-image hotfix decisions, for the report.
    private let hotfixNotes = Mutex<[String]>([])
    private let changes = Mutex<[PackageChanges]>([])
    /// The digest each source tag pointed at when its labels were read.
    private let sourceDigests = Mutex<[String: Digest]>([:])

    public init(plan: PreparePlan, options: RegistryOptions) throws(PrepareError) {
        // A push destination is verified like any registry, unless it is the undercloud's own.
        var insecure = Set(options.insecureRegistries + plan.registry.insecureRegistries
            + plan.pushDestinations.filter(UndercloudRegistry.isUndercloudPort))
        var mirror: String?
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
        let registries = try RegistriesConf.load(path: options.registriesConfFile)
        insecure.formUnion(registries.insecureRegistries)
        self.mirror = mirror
        self.insecure = insecure
        self.options = options
        client = try Self.makeClient(
            options: options, insecure: insecure,
            credentials: plan.registry.credentials.mapValues { (user: $0.user, password: $0.password) })
        sources = PullSources(configuration: registries, client: client)
        // Only the images the run reads: a blocked registry's image that is only named in
        // a parameter is not pulled.
        let read = plan.images.filter { $0.tagFromLabel != nil || $0.pushDestination != nil || $0.modify != nil }
        try sources.checkNotBlocked(read.compactMap { try? Self.sourceReference($0.imageName, mirror: mirror) })
        var platforms: ImageCopier.Platforms = .only(.linuxAMD64)
        if !plan.registry.additionalArchitectures.isEmpty { platforms = .all }
        copier = ImageCopier(
            client: client, platforms: platforms,
            destinations: DestinationRouter(client: client, imageServeDirectory: options.imageServeDirectory))
        hotfixes = HotfixPlanner(inventory: PackageInventory(client: client, maxDatabaseSize: options.maxDatabaseSize))
        tags = TagLookup(client: client)
    }

    /// One client for a run: credentials from the environment, `--authfile`
    /// and the containers auth files; the given registries reached insecurely.
    static func makeClient(
        options: RegistryOptions, insecure: Set<String>, credentials: [String: (user: String, password: String)] = [:]
    ) throws(PrepareError) -> RegistryClient {
        var authFiles = CredentialStore.defaultAuthFiles().filter { FileManager.default.fileExists(atPath: $0) }
        if let authFile = options.authFile { authFiles.insert(authFile, at: 0) }
        let store: CredentialStore
        do {
            store = try CredentialStore(userPasswords: credentials, authFiles: authFiles)
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

    /// The source reference, through `DockerRegistryMirror` for docker.io.
    func sourceReference(_ name: String) throws -> Reference {
        try Self.sourceReference(name, mirror: mirror)
    }

    static func sourceReference(_ name: String, mirror: String?) throws -> Reference {
        var reference = try Reference(name)
        if let mirror, reference.registry == Reference.dockerHubRegistry {
            reference.registry = mirror
        }
        return reference
    }

    // MARK: Resolve

    public func resolve(_ plan: PreparePlan) async -> [Result<ResolvedImage, ImageFailure>] {
        await forEach(plan.images) { image in
            do {
                if ImageName.isLocal(image.imageName) { return .success(try await self.resolveLocal(image)) }
                let source = try self.sourceReference(image.pullName)
                var discovered = TagLookup.Outcome()
                var labels: [String: String]?
                if let label = image.tagFromLabel {
                    let template = try TagTemplate(label)
                    let client = self.client
                    let ((resolved, config), answered) = try await self.sources.read(source) { source in
                        let resolved = try await client.resolveImage(source)
                        return (resolved, try await client.fetchImageConfig(of: resolved, in: source))
                    }
                    self.sourceDigests.withLock { $0[image.imageName] = resolved.taggedDigest }
                    labels = config.labels
                    // The tag is checked where the labels were read (a registries.conf mirror, if
                    // the registry itself did not answer).
                    discovered = try await self.tags.discover(template, labels: config.labels, source: answered, image: image.imageName)
                }
                var modified = image.modify != nil
                if let modify = image.modify, !modify.onlyWithLabels.isEmpty {
                    let imageLabels: [String: String]
                    if let labels {
                        imageLabels = labels
                    } else {
                        let client = self.client
                        imageLabels = try await self.sources.read(source) { try await client.fetchImageConfig($0).labels }.value
                    }
                    // Upstream's filter_images_with_labels: any one of the labels.
                    modified = modify.onlyWithLabels.contains { imageLabels[$0] != nil }
                }
                if modified, self.options.onlyImagesWithPackages, case .rpmInstall(let rpmsPath)? = image.modify?.task {
                    // The image's layers from where the build will read its base.
                    let base = await self.sources.available(self.pinned(source, image))
                    let plan = try await self.hotfixes.plan(rpmsPath: rpmsPath, image: base.description)
                    modified = plan.applies
                    let note = plan.applies
                        ? "hotfix  \(image.imageName): " + plan.replacements.map { "\($0.installed) -> \($0.replacement)" }.joined(separator: ", ")
                        : "hotfix  \(image.imageName): none of the hotfix packages is installed, not modified"
                    self.hotfixNotes.withLock { $0.append(note) }
                }
                return .success(
                    ResolvedImage(image: image, tag: discovered.tag, modified: modified, missingLabel: discovered.missingLabel))
            } catch {
                return .failure(ImageFailure(image: image.imageName, reason: "\(error)"))
            }
        }
    }

    /// A locally built image: its tag from its labels in local storage; never modified
    /// (the planner refuses that).
    private func resolveLocal(_ image: PlannedImage) async throws -> ResolvedImage {
        var tag: String?
        if let label = image.tagFromLabel {
            let template = try TagTemplate(label)
            let local = try await LocalImageCopy(copier: copier, options: options)
                .find(ImageName.withoutStoragePrefix(image.imageName))
            tag = try template.tag(labels: local.labels, image: image.imageName)
        }
        return ResolvedImage(image: image, tag: tag, modified: false)
    }

    // MARK: Transfer

    public func transfer(_ images: [ResolvedImage], plan: PreparePlan) async -> TransferOutcome {
        let copies = images.filter { $0.image.pushDestination != nil && !$0.modified }
        let modifications = images.filter { $0.modified }
        var outcome = TransferOutcome(report: hotfixNotes.withLock { $0 })
        let copied = await forEach(copies) { image in await self.copy(image) }
        // After the copies, whose repositories base layers can be mounted from; buildah
        // builds one at a time (ImageModification.buildSlot), layer appends concurrently.
        let built = await forEach(modifications) { image in await self.modify(image) }
        for result in copied + built {
            switch result {
            case .success(let line): outcome.report.append(line)
            case .failure(let failure): outcome.failures.append(failure)
            }
        }
        outcome.insecureRegistries = await client.insecurelyReachedRegistries()
        outcome.packageChanges = changes.withLock { $0 }
        outcome.report.append(Self.summary(copied: copied.count, built: built.count, failed: outcome.failures.count))
        for registry in await copier.destinations.imageServeRegistries() {
            outcome.report.append("\(registry) is an image-serve registry (no push API): its images are files in \(options.imageServeDirectory.path), which its httpd serves.")
        }
        return outcome
    }

    private func copy(_ image: ResolvedImage) async -> Result<String, ImageFailure> {
        if ImageName.isLocal(image.image.imageName) { return await copyLocal(image) }
        do {
            // From the digest the labels were read at (the set tag may have moved since):
            // the discovered tag names the destination.
            let source = pinned(try sourceReference(image.image.pullName), image.image)
            let target = try Reference(image.targetName)
            // Already there with the digest the labels were read from: one
            // request, no second look at the source.
            if let digest = sourceDigests.withLock({ $0[image.image.imageName] }),
                let present = try await copier.destinationManifest(target), present.digest == digest
            {
                let line = "skipped \(image.targetName) (already there, \(digest))"
                progress(line)
                return .success(line)
            }
            var copier = self.copier
            copier.platforms = image.image.multiArch ? .all : .only(.linuxAMD64)
            let (report, from) = try await sources.read(source) { [copier] in try await copier.copy(from: $0, to: target) }
            let mirrorNote = sources.isMirror(from, of: source) ? ", from mirror \(from.registry)" : ""
            let line: String
            switch report.outcome {
            case .skipped:
                line = "skipped \(image.targetName) (already there, \(report.digest))"
            default:
                let mounted = await copier.destinations.mountedWord(target.registry)
                line = "copied  \(image.targetName) (\(report.blobsCopied) blob(s) copied, \(report.blobsMounted) \(mounted), \(report.blobsPresent) present, \(Self.bytes(report.bytesCopied))\(mirrorNote))"
            }
            progress(line)
            return .success(line)
        } catch {
            progress("FAILED  \(image.targetName): \(error)")
            return .failure(ImageFailure(image: image.image.imageName, reason: "\(error)"))
        }
    }

    /// From local container storage through an OCI layout; buildah runs one at a time.
    private func copyLocal(_ image: ResolvedImage) async -> Result<String, ImageFailure> {
        let name = ImageName.withoutStoragePrefix(image.image.imageName)
        await buildSlot.acquire()
        do {
            let target = try Reference(image.targetName)
            let report = try await LocalImageCopy(copier: copier, options: options).copy(name, to: target)
            await buildSlot.release()
            let blobs = report.push.blobs
            let line = "copied  \(image.targetName) (from local container storage, image \(report.image.id.prefix(12)); "
                + "\(blobs.copied) blob(s) pushed, \(blobs.mounted) mounted, \(blobs.present) present)"
            progress(line)
            return .success(line)
        } catch {
            await buildSlot.release()
            let reason = (error as? BuildError)?.detail ?? "\(error)"
            progress("FAILED  \(image.targetName): \(reason)")
            return .failure(ImageFailure(image: image.image.imageName, reason: reason))
        }
    }

    private func modify(_ image: ResolvedImage) async -> Result<String, ImageFailure> {
        guard let modify = image.image.modify else { return .failure(ImageFailure(image: image.sourceName, reason: "no modification")) }
        do {
            let target = try Reference(image.targetName)
            if try await copier.destinationManifest(target) != nil {
                let line = "skipped \(image.targetName) (already modified)"
                progress(line)
                return .success(line)
            }
            // The base is the image whose labels were read: buildah's FROM names its digest.
            let source = await sources.available(pinned(try sourceReference(image.image.pullName), image.image))
            let modification = ImageModification(
                client: client, copier: copier, inventory: hotfixes.inventory, buildSlot: buildSlot, options: options)
            let summary = try await modification.run(
                task: modify.task, appendTag: modify.appendTag, source: source, target: target,
                tlsVerify: !insecure.contains(source.registry))
            var line = "built   \(image.targetName) (\(summary))"
            if options.reportPackageChanges {
                let before = try await hotfixes.inventory.packages(of: source.description)
                let after = try await hotfixes.inventory.packages(of: target.description)
                let change = PackageChanges(image: image.targetName, before: before, after: after)
                changes.withLock { $0.append(change) }
                line += "\n" + change.summary
            }
            progress(line)
            return .success(line)
        } catch let error as BuildError {
            progress("FAILED  \(image.targetName): \(error.detail)")
            return .failure(ImageFailure(image: image.image.imageName, reason: error.detail))
        } catch {
            progress("FAILED  \(image.targetName): \(error)")
            return .failure(ImageFailure(image: image.image.imageName, reason: "\(error)"))
        }
    }

    /// `reference` pinned to the digest its tag pointed at when the image's labels were
    /// read, when they were: every later step (copy, modification base, package inventory)
    /// reads that image even if the tag moves during the run.
    private func pinned(_ reference: Reference, _ image: PlannedImage) -> Reference {
        guard let digest = sourceDigests.withLock({ $0[image.imageName] }) else { return reference }
        return reference.withDigest(digest)
    }

    private func progress(_ line: String) {
        guard options.progress else { return }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func summary(copied: Int, built: Int, failed: Int) -> String {
        "\(copied) image(s) copied or already present, \(built) modified, \(failed) failed."
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// Runs `body` for every element with at most `options.concurrency` at
    /// once, keeping the input order in the results.
    private func forEach<Element: Sendable, Output: Sendable>(
        _ elements: [Element], _ body: @escaping @Sendable (Element) async -> Output
    ) async -> [Output] {
        await withTaskGroup(of: (Int, Output).self) { group in
            var results = [Output?](repeating: nil, count: elements.count)
            var next = 0
            for _ in 0..<min(max(1, options.concurrency), elements.count) {
                let index = next
                group.addTask { (index, await body(elements[index])) }
                next += 1
            }
            while let (index, output) = await group.next() {
                results[index] = output
                if next < elements.count {
                    let index = next
                    group.addTask { (index, await body(elements[index])) }
                    next += 1
                }
            }
            return results.map { $0! }
        }
    }
}

extension Reference {
    /// The name buildah pulls: docker.io for Docker Hub.
    var buildahName: String {
        let registry = self.registry == Reference.dockerHubRegistry ? "docker.io" : self.registry
        return "\(registry)/\(repository)" + (digest.map { "@\($0)" } ?? ":\(tag ?? "latest")")
    }
}
