import Foundation
import ImagePrepBuild
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
    let options: RegistryOptions

    /// Returns what was built, for the report line after the image name.
    func run(
        task: ModifyTask, appendTag: String, source: Reference, target: Reference, tlsVerify: Bool
    ) async throws -> String {
        var note = ""
        if case .modifyImage = task, options.engine != .buildah {
            switch try await appendLayer(task: task, appendTag: appendTag, source: source, target: target) {
            case .built(let summary): return summary
            case .needsBuildah(let reason): note = " (\(reason))"
            }
        } else if options.engine == .layer {
            throw BuildError(
                image: source.description, step: "build \(task.name) (--engine layer)",
                message: "\(task.name) runs commands in the image and needs buildah: use --engine auto or buildah")
        }
        return try await buildSlot.withSlots {
            try await build(task: task, appendTag: appendTag, source: source, target: target, tlsVerify: tlsVerify, note: note)
        }
    }

    private func build(
        task: ModifyTask, appendTag: String, source: Reference, target: Reference, tlsVerify: Bool, note: String
    ) async throws -> String {
        var note = note
        var updatePackages: [String]?
        if case .yumUpdate(let update) = task, update.compareHostPackages {
            // The image's inventory (its layers streamed from the registry) against the host's.
            let names = PackageInventory.packagesToUpdate(
                try await inventory.packages(of: source.description), host: try await inventory.hostPackages())
            note = names.isEmpty
                ? " (compare_host_packages: no package differs from the host's)"
                : " (compare_host_packages: updating \(names.joined(separator: ", ")))"
            updatePackages = names
        }
        // The run's logins and CA, for buildah to pull the base as the run reads it.
        let logins = try BuildahLogins.write(
            credentials: client.configuration.credentials, caFile: options.caFile, in: options.workDirectory)
        defer { logins?.remove() }
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
        let blobs = report.blobs
        let mounted = await copier.destinations.mountedWord(target.registry)
        return "\(task.name), buildah\(note), \(report.baseLayersReused) base layer(s) reused, "
            + "\(blobs.copied) blob(s) pushed, \(blobs.mounted) \(mounted), \(blobs.present) present"
    }

    enum LayerAttempt {
        /// What was built.
        case built(String)
        /// The Dockerfile needs buildah, and `--engine auto` lets buildah have it.
        case needsBuildah(String)
    }

    private func appendLayer(task: ModifyTask, appendTag: String, source: Reference, target: Reference) async throws
        -> LayerAttempt
    {
        let step = "build \(task.name) (layer engine)"
        let buildDirectory = options.workDirectory.appendingPathComponent("build-\(UUID().uuidString.prefix(8).lowercased())")
        let context = buildDirectory.appendingPathComponent("context")
        defer { if !options.keepBuildDirectory { try? FileManager.default.removeItem(at: buildDirectory) } }
        func failure(_ message: String) -> BuildError {
            BuildError(image: source.description, step: step, message: message,
                       buildDirectory: options.keepBuildDirectory ? buildDirectory.path : nil)
        }

        let written: BuildContext
        do {
            written = try BuildContext.write(
                task: task, sourceImage: source.buildahName, appendTag: appendTag, originalUser: "", into: context)
        } catch {
            throw BuildError(image: source.description, step: "prepare \(task.name)", message: "\(error)")
        }
        var engine = LayerAppendEngine(copier: copier, workDirectory: buildDirectory)
        engine.keepSourceMtimes = options.keepSourceMtimes
        do {
            let recipe = try LayerRecipe.parse(try String(contentsOf: written.dockerfile, encoding: .utf8))
            let report = try await engine.append(recipe, context: context, source: source, target: target)
            var summary = "\(task.name), layer engine, "
            summary += report.layer.map { "1 layer of \(RegistrySession.bytes($0.size)) appended" } ?? "config only, no layer"
            let base = report.baseLayers
            summary += "; base layers: \(base.present) present, \(base.mounted) \(await copier.destinations.mountedWord(target.registry)), "
            summary += "\(base.copied) copied (\(RegistrySession.bytes(base.bytesCopied)))"
            return .built(summary)
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
}
