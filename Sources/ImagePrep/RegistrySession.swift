import Foundation
import ImagePrepBuild
import Logging
import Synchronization
import ImagePrepPlan
import ImagePrepRegistry

/// Settings of a real (not dry) run that the environment does not give.
public struct RegistryOptions: Sendable {
    /// `--insecure-registry HOST[:PORT]`, besides push destinations and
    /// `DockerInsecureRegistryAddress`.
    public var insecureRegistries: [String] = []
    public var caFile: String?
    /// `--authfile`, read before the default containers auth files.
    public var authFile: String?
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
    /// A transfer that moves no byte for this long is aborted and retried (`--stall-timeout`);
    /// also the longest wait for a connection, up to 30 s.
    public var stallTimeout: Duration = .seconds(30)

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
    let hotfixes: HotfixPlanner
    /// Per-image hotfix decisions, for the report.
    private let hotfixNotes = Mutex<[String]>([])
    private let changes = Mutex<[PackageChanges]>([])
    /// The digest each source tag pointed at when its labels were read.
    private let sourceDigests = Mutex<[String: Digest]>([:])

    public init(plan: PreparePlan, options: RegistryOptions) throws(PrepareError) {
        var insecure = Set(options.insecureRegistries + plan.registry.insecureRegistries + plan.pushDestinations)
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
        self.mirror = mirror
        self.insecure = insecure
        self.options = options
        client = try Self.makeClient(
            options: options, insecure: insecure,
            credentials: plan.registry.credentials.mapValues { (user: $0.user, password: $0.password) })
        var platforms: ImageCopier.Platforms = .only(.linuxAMD64)
        if !plan.registry.additionalArchitectures.isEmpty { platforms = .all }
        copier = ImageCopier(client: client, platforms: platforms)
        hotfixes = HotfixPlanner(inventory: PackageInventory(client: client))
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
                let source = try self.sourceReference(image.imageName)
                var tag: String?
                var labels: [String: String]?
                if let label = image.tagFromLabel {
                    let template = try TagTemplate(label)
                    let resolved = try await self.client.resolveImage(source)
                    self.sourceDigests.withLock { $0[image.imageName] = resolved.taggedDigest }
                    let config = try await self.client.fetchImageConfig(of: resolved, in: source)
                    labels = config.labels
                    tag = try template.tag(labels: config.labels, image: source.description)
                }
                var modified = image.modify != nil
                if let modify = image.modify, !modify.onlyWithLabels.isEmpty {
                    let imageLabels: [String: String]
                    if let labels { imageLabels = labels } else { imageLabels = try await self.client.fetchImageConfig(source).labels }
                    modified = modify.onlyWithLabels.allSatisfy { imageLabels[$0] != nil }
                }
                if modified, self.options.onlyImagesWithPackages, case .rpmInstall(let rpmsPath)? = image.modify?.task {
                    let plan = try await self.hotfixes.plan(rpmsPath: rpmsPath, image: source.description)
                    modified = plan.applies
                    let note = plan.applies
                        ? "hotfix  \(image.imageName): " + plan.replacements.map { "\($0.installed) -> \($0.replacement)" }.joined(separator: ", ")
                        : "hotfix  \(image.imageName): none of the hotfix packages is installed, not modified"
                    self.hotfixNotes.withLock { $0.append(note) }
                }
                return .success(ResolvedImage(image: image, tag: tag, modified: modified))
            } catch {
                return .failure(ImageFailure(image: image.imageName, reason: "\(error)"))
            }
        }
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
        return outcome
    }

    private func copy(_ image: ResolvedImage) async -> Result<String, ImageFailure> {
        do {
            // From the tag the labels were read on (the set tag): the
            // discovered tag names the destination.
            let source = try sourceReference(image.image.imageName)
            let target = try Reference(image.targetName)
            // Already there with the digest the labels were read from: one
            // request, no second look at the source.
            if let digest = sourceDigests.withLock({ $0[image.image.imageName] }),
                let present = try await client.headManifest(target), present.digest == digest
            {
                let line = "skipped \(image.targetName) (already there, \(digest))"
                progress(line)
                return .success(line)
            }
            let report = try await copier.copy(from: source, to: target)
            let line: String
            switch report.outcome {
            case .skipped:
                line = "skipped \(image.targetName) (already there, \(report.digest))"
            default:
                line = "copied  \(image.targetName) (\(report.blobsCopied) blob(s) copied, \(report.blobsMounted) mounted, \(report.blobsPresent) present, \(Self.bytes(report.bytesCopied)))"
            }
            progress(line)
            return .success(line)
        } catch {
            progress("FAILED  \(image.targetName): \(error)")
            return .failure(ImageFailure(image: image.image.imageName, reason: "\(error)"))
        }
    }

    private func modify(_ image: ResolvedImage) async -> Result<String, ImageFailure> {
        guard let modify = image.image.modify else { return .failure(ImageFailure(image: image.sourceName, reason: "no modification")) }
        do {
            let target = try Reference(image.targetName)
            if try await client.headManifest(target) != nil {
                let line = "skipped \(image.targetName) (already modified)"
                progress(line)
                return .success(line)
            }
            let source = try sourceReference(image.image.imageName)
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
