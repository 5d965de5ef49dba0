import Foundation
import ImagePrepArchive
import ImagePrepBuild
import ImagePrepConcurrency
import ImagePrepFiles
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// Runs one modification with the engine the options ask for, and pushes the result: the
/// layer engine for a `modify_image` Dockerfile that runs nothing (with `--engine auto` or
/// `layer`), buildah for everything else. Shared by `prepare` and `imageprep modify`. The
/// engines are in `+Buildah` and `+LayerEngine`.
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
    /// The source image as the resolve stage read it (`prepare`), when it did: its manifest,
    /// config and packages are not asked for again.
    var base: SourceImage? = nil

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
            let before = try await packages(of: source)
            let after = try await inventory.packages(of: target.description)
            report.packageChanges = PackageChanges(image: target.description, before: before, after: after)
        }
        return .built(report)
    }

    /// The packages installed in `source`; from the image the resolve stage read when it is
    /// that one.
    func packages(of source: Reference) async throws -> [InstalledPackage] {
        if let base, base.reference == source { return try await inventory.packages(of: base) }
        return try await inventory.packages(of: source.description)
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

    /// `--cleanup` after an operator's role: full removes the loaded source and the role's
    /// image from containers-storage, partial the source, none neither. A name is removed
    /// (`rmi` without `--force`): an image other names still hold stays. The working
    /// containers a failed role left on the loaded source (made while it ran) go first, or the
    /// source could not be removed.
    func cleanUp(
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

    /// A new build directory of the layer engine under the work directory: `build-ID` when it
    /// is kept, else named for the run (removed on a signal, or by the next run if this one dies).
    func newBuildDirectory() -> URL {
        guard !options.keepBuildDirectory else {
            return options.workDirectory.appendingPathComponent("build-\(UUID().uuidString.prefix(8).lowercased())")
        }
        return URL(fileURLWithPath: RunTemporaries.newPath(in: options.workDirectory.path, prefix: ImageModifier.buildDirectoryPrefix))
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
