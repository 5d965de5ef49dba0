import Foundation
import ImagePrepBuild
import ImagePrepConcurrency
import ImagePrepFiles
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// Modifications the layer engine writes itself (a layer appended without running anything,
/// RPMs installed without a scriptlet), and the push of what it built.
extension ImageModification {
    enum LayerAttempt {
        /// What was built.
        case built(ModificationReport)
        /// The Dockerfile needs buildah, and `--engine auto` lets buildah have it.
        case needsBuildah(String)
    }

    func appendLayer(task: ModifyTask, appendTag: String, source: Reference, target: Reference) async throws
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
    func installRPMs(
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
            let (client, limit) = (client, inventory.maxDatabaseSize)
            let found = try await PackageInventory.topmostDatabase(in: base.manifest.layers) { layer in
                try await PackageInventory.extractDatabase(of: layer, in: repository, client: client, into: root, limit: limit)
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


    /// A layer-engine build of `task` on `source` that failed; names the build directory when
    /// it is kept.
    func layerEngineFailure(_ message: String, task: ModifyTask, source: Reference, buildDirectory: URL) -> BuildError {
        BuildError(image: source.description, step: "build \(task.name) (layer engine)", message: message,
                   buildDirectory: options.keepBuildDirectory ? buildDirectory.path : nil)
    }

    /// The base image's manifest and its config as an editable document; its layers are not read.
    /// The resolve stage's read when `source` is the image it read.
    func baseImage(_ source: Reference) async throws -> (ResolvedManifest, ImageDocument) {
        if let base, base.reference == source {
            return (base.manifest, try ImageDocument(base.configData, what: "the image config of \(source)"))
        }
        let resolved = try await client.resolveImage(source)
        let config = try ImageDocument(
            try await client.fetchImageConfigData(of: resolved, in: source), what: "the image config of \(source)")
        return (resolved, config)
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
    func appendLayer(
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
    func push(_ image: AppendedImage, base: ResolvedManifest, source: Reference, target: Reference) async throws
        -> BlobPlacementCounts
    {
        var blobs = [BuiltImagePush.Blob(image.configDescriptor, from: .data(image.config))]
        if let layer = image.layer { blobs.append(BuiltImagePush.Blob(layer.descriptor, from: .file(layer.file))) }
        return try await BuiltImagePush(copier: copier).push(
            manifest: image.manifest, mediaType: image.mediaType, blobs: blobs, baseLayers: base.manifest.layers, base: source,
            to: target)
    }
}
