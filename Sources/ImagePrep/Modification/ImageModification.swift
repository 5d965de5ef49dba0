import Foundation
import ImagePrepBuild
import ImagePrepConcurrency
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// Runs one modification with the engine the options ask for, and pushes the result: the
/// layer engine for a `modify_image` Dockerfile that runs nothing (with `--engine auto` or
/// `layer`), buildah for everything else. Shared by `prepare` and `imageprep modify`.
struct ImageModification {
    let client: RegistryClient
    let copier: ImageCopier
    let inventory: PackageInventory
    /// buildah builds are heavy: one at a time, while layer-engine modifications run
    /// concurrently.
    let buildSlot: ConcurrencyLimiter
    /// A `yum_cache` has one writer at a time: builds sharing one wait for each other
    /// (before taking a build slot).
    let cacheWriters: ExclusiveKeys
    /// An ansible-playbook run takes every build slot: a role's `buildah from` names its
    /// working container after the image (`127.0.0.1-working-container` for every image of a
    /// `127.0.0.1:PORT` registry), and two at once in one storage collide on that name
    /// (measured with the upstream role: "reading build container ...: container not
    /// known"). Native builds name nothing and run `--build-concurrency` at once.
    static let everySlot = Int.max
    /// The run's CA file, for buildah to pull the base as the run reads it.
    let caFile: String?
    let options: ModificationOptions

    /// What modifying one image came to.
    enum Outcome {
        /// The target tag is already at the destination: nothing was built.
        case alreadyThere
        /// `checkHotfix` and `onlyImagesWithPackages`: the image has none of the packages.
        case notATarget
        case built(ModificationReport)
    }

    /// The one path of `prepare` and `imageprep modify`: nothing when `target` is already
    /// at the destination (or, with `checkHotfix` and `onlyImagesWithPackages`, when the
    /// image has none of an rpm_install's packages; `prepare` decided that when resolving),
    /// else the modification built and pushed, and with `reportPackageChanges` the packages
    /// compared before and after.
    ///
    /// An operator's own role (`.role`) runs through `ansible-playbook` as tripleo-common runs
    /// it (`roleRun`); so does the built-in one with `--engine ansible`: the upstream role
    /// `tripleo-modify-image` found on the roles path, its `modify_vars` as given.
    ///
    /// `unmodified`: where the unmodified image is copied first (the target's repository
    /// under the source's tag), as tripleo-common leaves it at the push destination; an
    /// operator's role then gets that name as `source_image`, as upstream gives it.
    func apply(
        _ action: ModifyAction, appendTag: String, source: Reference, target: Reference, tlsVerify: Bool,
        checkHotfix: Bool = false, unmodified: Reference? = nil
    ) async throws -> Outcome {
        if try await copier.destinationManifest(target) != nil { return .alreadyThere }
        if let unmodified { _ = try await copier.copy(from: source, to: unmodified) }
        var report: ModificationReport
        switch action {
        case .builtIn(let task, let vars):
            if checkHotfix, options.onlyImagesWithPackages, case .rpmInstall(let rpmsPath) = task {
                let plan = try await HotfixPlanner(inventory: inventory).plan(rpmsPath: rpmsPath, image: source.description)
                if !plan.applies { return .notATarget }
            }
            if options.engine == .ansible {
                // The upstream role itself, with the modify_vars as given (checked as the
                // built-in task's all the same), tasks_from as the file it names: the role
                // imports `tasks_from` as written, and imageprep takes `rpm_install` too.
                let roleVars = vars.map { $0.key == "tasks_from" ? ConfigEntry("tasks_from", .string(task.name)) : $0 }
                report = try await cacheWriters.withExclusive(task.cacheDirectory) {
                    try await buildSlot.withSlots(Self.everySlot) {
                        try await roleRun(
                            Planner.modifyRole, vars: roleVars, appendTag: appendTag, source: source, target: target,
                            localName: unmodified, reportedAs: "\(Planner.modifyRole) \(task.name)")
                    }
                }
            } else {
                report = try await run(task: task, appendTag: appendTag, source: source, target: target, tlsVerify: tlsVerify)
            }
        case .role(let role, let vars):
            report = try await buildSlot.withSlots(Self.everySlot) {
                try await roleRun(role, vars: vars, appendTag: appendTag, source: source, target: target, localName: unmodified)
            }
        }
        if options.reportPackageChanges {
            let before = try await inventory.packages(of: source.description)
            let after = try await inventory.packages(of: target.description)
            report.packageChanges = PackageChanges(image: target.description, before: before, after: after)
        }
        return .built(report)
    }

    /// Builds with the engine the options ask for and pushes the result.
    private func run(
        task: ModifyTask, appendTag: String, source: Reference, target: Reference, tlsVerify: Bool
    ) async throws -> ModificationReport {
        var note: ModificationReport.Note?
        var attempt: LayerAttempt?
        if options.engine == .auto || options.engine == .layer {
            switch task {
            case .modifyImage:
                attempt = try await appendLayer(task: task, appendTag: appendTag, source: source, target: target)
            case .rpmInstall(let rpmsPath):
                attempt = try await installRPMs(rpmsPath, task: task, appendTag: appendTag, source: source, target: target)
            default:
                break
            }
        }
        if let attempt {
            switch attempt {
            case .built(let report): return report
            case .needsBuildah(let reason): note = .layerEngineDeclined(reason)
            }
        } else if options.engine == .layer {
            throw BuildError(
                image: source.description, step: "build \(task.name) (--engine layer)",
                message: "\(task.name) runs commands in the image and needs buildah: use --engine auto or buildah")
        }
        return try await cacheWriters.withExclusive(task.cacheDirectory) {
            try await buildSlot.withSlots {
                try await build(task: task, appendTag: appendTag, source: source, target: target, tlsVerify: tlsVerify, note: note)
            }
        }
    }

    private func build(
        task: ModifyTask, appendTag: String, source: Reference, target: Reference, tlsVerify: Bool,
        note: ModificationReport.Note?
    ) async throws -> ModificationReport {
        var note = note
        var updatePackages: [String]?
        if case .yumUpdate(let update) = task, update.compareHostPackages {
            // The image's inventory (its layers streamed from the registry) against the host's.
            let names = PackageInventory.packagesToUpdate(
                try await inventory.packages(of: source.description), host: try await inventory.hostPackages())
            note = .hostPackages(names)
            updatePackages = names
        }
        // The run's logins and CA, for buildah to pull the base as the run reads it.
        let logins = try BuildahLogins.write(
            credentials: client.configuration.credentials, caFile: caFile, in: options.workDirectory)
        defer { logins?.remove() }
        // buildah's build directory (`imageprep-build-PID-…`) goes on a signal, or at the next run.
        RunTemporaries.removeDead(in: options.workDirectory.path, prefix: ImageModifier.buildDirectoryPrefix)
        RunTemporaries.trackOwned(in: options.workDirectory.path, prefix: ImageModifier.buildDirectoryPrefix)
        let modifier = ImageModifier(
            buildah: options.buildah, workDirectory: options.workDirectory, cleanup: options.cleanup,
            keepBuildDirectory: options.keepBuildDirectory, updatePackages: updatePackages,
            access: logins?.access ?? RegistryAccess())
        let built = try await modifier.modify(
            sourceImage: source.buildahName, task: task, appendTag: appendTag, tlsVerify: tlsVerify, keepAs: target.buildahName)
        defer { built.finish() }
        // The base's layers go out as the base's own blobs, not buildah's recompressed copies.
        let resolved = try await client.resolveImage(source)
        let baseConfig = try await client.fetchImageConfig(of: resolved, in: source)
        let base = OCILayoutPush.Base(
            reference: source, layers: resolved.manifest.layers, diffIDs: baseConfig.rootfs?.diffIDs ?? [])
        let mountFrom = source.registry == target.registry ? [source.repository] : []
        let report = try await OCILayoutPush(copier: copier).push(layout: built.layout, to: target, mountFrom: mountFrom, base: base)
        return ModificationReport(
            task: task.name, engine: .buildah(baseLayersReused: report.baseLayersReused), note: note, blobs: report.blobs,
            destination: await copier.destinationKind(target))
    }

    /// An operator's `modify_role`, as tripleo-common's `image_uploader.py` runs it: the
    /// source (by the digest resolved) into containers-storage under its own name, the
    /// playbook upstream writes run with `ansible-playbook` (`source_image` that name,
    /// `target_image` the target without the append tag), then `target_image` plus the append
    /// tag pushed from containers-storage to `target`. `--cleanup` full removes both local
    /// images, partial the source, none neither. The role's pulls get the run's logins in
    /// the private auth file buildah builds get (`REGISTRY_AUTH_FILE`), never on a command
    /// line. The playbook, its log and its temporaries are in `ansible-ID` under the work
    /// directory: removed after a success unless `--keep-build-dir`, kept after a failure,
    /// whose message names the log. `reportedAs` names the run in the report (the role).
    private func roleRun(
        _ role: String, vars: [ConfigEntry], appendTag: String, source: Reference, target: Reference,
        localName: Reference? = nil, reportedAs: String? = nil
    ) async throws -> ModificationReport {
        var named = localName ?? source
        named.digest = nil
        if named.tag == nil { named.tag = "latest" }
        let sourceImage = named.buildahName
        var modified = target
        modified.digest = nil
        let modifiedImage = modified.buildahName
        let targetImage = modifiedImage.hasSuffix(appendTag) ? String(modifiedImage.dropLast(appendTag.count)) : modifiedImage
        let playbook = AnsiblePlaybook(
            role: role, modifyVars: vars, sourceImage: sourceImage, targetImage: targetImage, modifiedAppendTag: appendTag)

        let logins = try BuildahLogins.write(
            credentials: client.configuration.credentials, caFile: caFile, in: options.workDirectory)
        defer { logins?.remove() }
        let directory = options.workDirectory.appendingPathComponent("ansible-\(UUID().uuidString.prefix(8).lowercased())")
        let buildah = options.buildah
        // The loaded source's ID, and the working containers there were before the role ran.
        var loaded: (id: String, containersBefore: Set<String>)?
        // A failed playbook's directory is kept: the error names its log.
        var keepDirectory = options.keepBuildDirectory
        defer { if !keepDirectory { RunTemporaries.remove(directory.path) } }
        do {
            let written = try await LocalStorageWrite(client: client, options: options).write(as: sourceImage, like: source) { layout, into in
                try await layout.copy(from: source, to: into).placements
            }
            loaded = (written.imageID, Set(((try? await buildah.containers()) ?? []).map(\.id)))
            let runner = AnsibleRunner(
                rolesPath: AnsiblePlaybook.rolesPath(
                    extra: options.rolesPath, environment: ProcessInfo.processInfo.environment, home: NSHomeDirectory(),
                    pipInstalled: role == Planner.modifyRole),
                access: logins?.access ?? RegistryAccess(), buildah: buildah)
            _ = try await runner.run(playbook, image: source.description, in: directory)
            // The base's layers go out as the base's own blobs, not buildah's recompressed copies.
            let resolved = try await client.resolveImage(source)
            let baseConfig = try await client.fetchImageConfig(of: resolved, in: source)
            let base = OCILayoutPush.Base(
                reference: source, layers: resolved.manifest.layers, diffIDs: baseConfig.rootfs?.diffIDs ?? [])
            let mountFrom = source.registry == target.registry ? [source.repository] : []
            let pushed = try await LocalImageCopy(copier: copier, options: options).copy(
                modifiedImage, to: target, mountFrom: mountFrom, base: base)
            await cleanUp(source: sourceImage, loaded: loaded, modified: modifiedImage, in: directory)
            return ModificationReport(
                task: reportedAs ?? role, engine: .ansible(baseLayersReused: pushed.push.baseLayersReused), blobs: pushed.push.blobs,
                destination: await copier.destinationKind(target))
        } catch {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("ansible.log").path) { keepDirectory = true }
            await cleanUp(source: sourceImage, loaded: loaded, modified: modifiedImage, in: directory)
            throw error
        }
    }

    /// `--cleanup` after an operator's role: full removes the loaded source and the role's
    /// image from containers-storage, partial the source, none neither. A name is removed
    /// (`rmi` without `--force`): an image other names still hold stays. The working
    /// containers a failed role left on the loaded source (made while it ran) go first, or the
    /// source could not be removed.
    private func cleanUp(
        source: String, loaded: (id: String, containersBefore: Set<String>)?, modified: String, in directory: URL
    ) async {
        guard options.cleanup != .none else { return }
        let log = directory.appendingPathComponent("cleanup.log")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let buildah = options.buildah
        if options.cleanup == .full { try? await buildah.untag(modified, log: log) }
        guard let loaded else { return }
        let imageID = loaded.id.hasPrefix("sha256:") ? String(loaded.id.dropFirst(7)) : loaded.id
        for container in (try? await buildah.containers()) ?? []
        where !loaded.containersBefore.contains(container.id) && !imageID.isEmpty && container.imageID.hasPrefix(imageID) {
            try? await buildah.removeContainer(container.id, log: log)
        }
        try? await buildah.untag(source, log: log)
    }

    enum LayerAttempt {
        /// What was built.
        case built(ModificationReport)
        /// The Dockerfile needs buildah, and `--engine auto` lets buildah have it.
        case needsBuildah(String)
    }

    private func appendLayer(task: ModifyTask, appendTag: String, source: Reference, target: Reference) async throws
        -> LayerAttempt
    {
        let buildDirectory = newBuildDirectory()
        let context = buildDirectory.appendingPathComponent("context")
        defer { if !options.keepBuildDirectory { RunTemporaries.release(buildDirectory.path) } }
        func failure(_ message: String) -> BuildError {
            layerEngineFailure(message, task: task, source: source, buildDirectory: buildDirectory)
        }

        let written: BuildContext
        do {
            written = try BuildContext.write(
                task: task, sourceImage: source.buildahName, appendTag: appendTag, originalUser: "", into: context)
        } catch {
            throw BuildError(image: source.description, step: "prepare \(task.name)", message: "\(error)")
        }
        do {
            let recipe = try LayerRecipe.parse(try String(contentsOf: written.dockerfile, encoding: .utf8))
            let report = try await appendLayer(recipe, context: context, source: source, target: target, in: buildDirectory)
            return .built(
                ModificationReport(
                    task: task.name, engine: .layer(layerSize: report.layer?.size), blobs: report.baseLayers,
                    destination: await copier.destinationKind(target)))
        } catch var ineligible as LayerRecipe.Ineligible {
            // Name the line of the operator's own Dockerfile.
            var location = "Dockerfile.modified"
            if case .modifyImage(let directory) = task {
                let dockerfile = URL(fileURLWithPath: directory).appendingPathComponent("Dockerfile")
                if let line = ineligible.line, let text = try? String(contentsOf: dockerfile, encoding: .utf8) {
                    ineligible.line = DockerfileRewriter.originalLine(line, in: text)
                }
                location = dockerfile.path
            }
            guard options.engine == .layer else { return .needsBuildah("\(location) \(ineligible)") }
            throw failure("\(location) \(ineligible): use --engine auto or buildah")
        } catch let error as BuildError {
            throw error
        } catch {
            throw failure("\(error)")
        }
    }

    /// rpm_install without buildah when no hotfix RPM needs rpm to run in the image: only the
    /// layer holding the image's rpm database is read, the base's layers are placed, never
    /// downloaded.
    private func installRPMs(
        _ rpmsPath: String, task: ModifyTask, appendTag: String, source: Reference, target: Reference
    ) async throws -> LayerAttempt {
        let buildDirectory = newBuildDirectory()
        defer { if !options.keepBuildDirectory { RunTemporaries.release(buildDirectory.path) } }
        func failure(_ message: String) -> BuildError {
            layerEngineFailure(message, task: task, source: source, buildDirectory: buildDirectory)
        }
        func needsBuildah(_ reason: RPMInstallLayer.NeedsBuildah) throws -> LayerAttempt {
            guard options.engine == .layer else { return .needsBuildah("\(reason)") }
            throw failure("\(reason): use --engine auto or buildah")
        }

        let install: RPMInstallLayer
        do {
            install = try RPMInstallLayer.check(rpmsPath: rpmsPath)
        } catch let reason as RPMInstallLayer.NeedsBuildah {
            return try needsBuildah(reason)
        } catch {
            throw BuildError(image: source.description, step: "prepare \(task.name)", message: "\(error)")
        }
        do {
            let (base, config) = try await baseImage(source)
            // The top-most layer holding the rpm database, as the package inventory finds it.
            let root = Self.databaseScratch(else: buildDirectory, needing: inventory.maxDatabaseSize)
            defer { RunTemporaries.release(root.path) }
            let repository = base.indexDigest == nil ? source : source.withDigest(base.raw.digest)
            var found: (database: URL, backend: String)?
            for layer in base.manifest.layers.reversed() where found == nil {
                found = try await PackageInventory.extractDatabase(
                    of: layer, in: repository, client: client, into: root, limit: inventory.maxDatabaseSize)
            }
            guard let found else { throw RPMInstallLayer.NeedsBuildah.noDatabase }
            let database = RPMInstallLayer.Database(
                root: root, path: String(found.database.path.dropFirst(root.path.count + 1)), backend: found.backend)
            let contents = try await install.contents(
                database: database, scratch: buildDirectory, mtime: AppendedImage.created(in: config).seconds)

            var edited = config
            edited.setLabel("modified_append_tag", appendTag)
            // As the buildah build of the role's Dockerfile: WORKDIR /, and buildah's search
            // path for an image that has none.
            edited[setting: "WorkingDir"] = .string("/")
            var env = edited[setting: "Env"]?.strings ?? []
            if !env.contains(where: { $0.hasPrefix("PATH=") }) {
                env.insert(AppendedImage.defaultSearchPath, at: 0)
                edited[setting: "Env"] = .strings(env)
            }
            let layerFile = buildDirectory.appendingPathComponent("layer.tar.gz")
            let createdBy = "imageprep layer engine: \(install.description)"
            // Writing and compressing the layer blocks: off the cooperative pool.
            let image = try await BlockingWork.run(name: "imageprep-layer") { [edited] in
                try AppendedImage.make(
                    base: base.raw.bytes, mediaType: base.raw.mediaType, configMediaType: base.manifest.config.mediaType,
                    config: edited, entries: contents.entries, layerFile: layerFile,
                    createdBy: createdBy, comment: "imageprep --engine layer")
            }
            let placed = try await push(image, base: base, source: source, target: target)
            return .built(
                ModificationReport(
                    task: task.name,
                    engine: .rpmInstall(
                        installed: contents.installed, layerSize: image.layer?.descriptor.size,
                        whitedOut: contents.removed.count),
                    blobs: placed, destination: await copier.destinationKind(target)))
        } catch let reason as RPMInstallLayer.NeedsBuildah {
            return try needsBuildah(reason)
        } catch let error as BuildError {
            throw error
        } catch {
            throw failure("\(error)")
        }
    }

    /// A new build directory of the layer engine under the work directory: `build-ID` when it
    /// is kept, else named for the run (removed on a signal, or by the next run if this one dies).
    private func newBuildDirectory() -> URL {
        guard !options.keepBuildDirectory else {
            return options.workDirectory.appendingPathComponent("build-\(UUID().uuidString.prefix(8).lowercased())")
        }
        return URL(fileURLWithPath: RunTemporaries.newPath(in: options.workDirectory.path, prefix: ImageModifier.buildDirectoryPrefix))
    }

    /// A layer-engine build of `task` on `source` that failed; names the build directory when
    /// it is kept.
    private func layerEngineFailure(_ message: String, task: ModifyTask, source: Reference, buildDirectory: URL) -> BuildError {
        BuildError(image: source.description, step: "build \(task.name) (layer engine)", message: message,
                   buildDirectory: options.keepBuildDirectory ? buildDirectory.path : nil)
    }

    /// The base image's manifest and its config as an editable document; its layers are not read.
    private func baseImage(_ source: Reference) async throws -> (ResolvedManifest, ImageDocument) {
        let base = try await client.resolveImage(source)
        let config = try ImageDocument(
            try await client.fetchImageConfigData(of: base, in: source), what: "the image config of \(source)")
        return (base, config)
    }

    /// Where the image's rpm database is updated: rpm syncs the file system it writes to
    /// (fdatasync, syncfs), which on a busy disk costs more than the rest of a hotfix, and this
    /// copy needs no durability; so a memory file system (`memory`) when it has room for the
    /// largest database a layer may hold (`needing`, `--max-rpmdb-size`) with 512 MiB to spare,
    /// so a hostile layer never fills the host's memory (a container's default /dev/shm of
    /// 64 MiB is too small); else `directory`.
    static func databaseScratch(else directory: URL, needing: Int64, memory: String = "/dev/shm") -> URL {
        var info = statvfs()
        guard FileManager.default.isWritableFile(atPath: memory), statvfs(memory, &info) == 0 else {
            return URL(fileURLWithPath: RunTemporaries.newPath(in: directory.path, prefix: "imageprep-rpmdb-"))
        }
        let (free, overflow) = UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize))
        let wanted = UInt64(max(0, needing)).addingReportingOverflow(512 * 1024 * 1024)
        guard overflow || (!wanted.overflow && free >= wanted.partialValue) else {
            return URL(fileURLWithPath: RunTemporaries.newPath(in: directory.path, prefix: "imageprep-rpmdb-"))
        }
        // Named for the run: removed on a signal, or by the next run if this one dies.
        return URL(fileURLWithPath: RunTemporaries.newPath(in: memory, prefix: "imageprep-rpmdb-"))
    }

    /// What the layer engine pushed.
    struct LayerReport {
        var digest: Digest
        /// The new layer; nil when the Dockerfile copies nothing (only config changes).
        var layer: Descriptor?
        /// How the base's layers were placed (none copied unless another registry had to send them).
        var baseLayers: BlobPlacementCounts
    }

    /// Applies `recipe` (from `context`) to `source` without buildah and pushes the result to
    /// `target`: the base's manifest and config are read, its layers never downloaded.
    private func appendLayer(
        _ recipe: LayerRecipe, context: URL, source: Reference, target: Reference, in buildDirectory: URL
    ) async throws -> LayerReport {
        let (base, baseConfig) = try await baseImage(source)
        let keepSourceMtimes = options.keepSourceMtimes
        // Copying the context's files and writing and compressing the layer block: off the
        // cooperative pool.
        let image = try await BlockingWork.run(name: "imageprep-layer") {
            let applied = try recipe.apply(
                toConfig: baseConfig, context: context, mtime: AppendedImage.created(in: baseConfig).seconds,
                keepSourceMtimes: keepSourceMtimes)
            try FileManager.default.createDirectory(at: buildDirectory, withIntermediateDirectories: true)
            return try AppendedImage.make(
                base: base.raw.bytes, mediaType: base.raw.mediaType, configMediaType: base.manifest.config.mediaType,
                config: applied.config, entries: applied.entries, layerFile: buildDirectory.appendingPathComponent("layer.tar.gz"),
                createdBy: "imageprep layer engine: " + recipe.instructions.joined(separator: "; "), comment: "imageprep --engine layer")
        }
        return LayerReport(
            digest: image.digest, layer: image.layer?.descriptor,
            baseLayers: try await push(image, base: base, source: source, target: target))
    }

    /// Pushes what the layer engine made: its new blobs from disk, the base's by placement.
    private func push(_ image: AppendedImage, base: ResolvedManifest, source: Reference, target: Reference) async throws
        -> BlobPlacementCounts
    {
        var blobs = [BuiltImagePush.Blob(image.configDescriptor, from: .data(image.config))]
        if let layer = image.layer { blobs.append(BuiltImagePush.Blob(layer.descriptor, from: .file(layer.file))) }
        return try await BuiltImagePush(copier: copier).push(
            manifest: image.manifest, mediaType: image.mediaType, blobs: blobs, baseLayers: base.manifest.layers, base: source,
            to: target)
    }
}

extension ImageCopier {
    /// Whether `reference`'s registry is pushed to or is an image-serve directory.
    func destinationKind(_ reference: Reference) async -> DestinationKind {
        await destinations.kind(of: reference.registry)
    }
}

extension DestinationRouter {
    /// Whether `registry` was written as an image-serve directory or pushed to.
    func kind(of registry: String) -> DestinationKind {
        isImageServe(registry) ? .imageServe : .registry
    }
}
