import Foundation
import ImagePrepBuild
import ImagePrepConcurrency
import ImagePrepFiles
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// Modifications built with buildah: the built-in role's tasks (Dockerfile.modified), and an
/// operator's role run by ansible-playbook.
extension ImageModification {
    func build(
        task: ModifyTask, appendTag: String, source: Reference, target: Reference, tlsVerify: Bool,
        note: ModificationReport.Note?
    ) async throws -> ModificationReport {
        var note = note
        var updatePackages: [String]?
        if case .yumUpdate(let update) = task, update.compareHostPackages {
            // The image's inventory (its layers streamed from the registry) against the host's.
            let names = PackageInventory.packagesToUpdate(
                try await packages(of: source), host: try await inventory.hostPackages())
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
    func roleRun(
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
                try await layout.copy(from: source, to: into).blobs
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
}
