import Foundation
import ImagePrepPlan

/// What buildah leaves behind after a modification (upstream's names).
public enum Cleanup: String, Sendable, CaseIterable {
    /// Remove the built image and the pulled base.
    case full
    /// Remove the pulled base, keep the built image (under its target name)
    /// for the host's own use, as upstream's undercloud does.
    case partial
    /// Remove nothing.
    case none
}

/// Modifies one image with buildah: pulls the base, writes the build context
/// and `Dockerfile.modified`, builds, and writes the result to an OCI layout
/// that the registry client pushes.
public struct ImageModifier: Sendable {
    public var buildah: Buildah
    public var workDirectory: URL
    public var cleanup: Cleanup
    public var keepBuildDirectory: Bool
    /// `compare_host_packages`: the names of the image's packages whose version differs
    /// from the host's, found by comparing package inventories before the build.
    public var updatePackages: [String]?
    /// The logins and CA buildah uses to pull the base.
    public var access: RegistryAccess

    public init(
        buildah: Buildah, workDirectory: URL, cleanup: Cleanup = .full, keepBuildDirectory: Bool = false,
        updatePackages: [String]? = nil, access: RegistryAccess = RegistryAccess()
    ) {
        self.buildah = buildah
        self.workDirectory = workDirectory
        self.cleanup = cleanup
        self.keepBuildDirectory = keepBuildDirectory
        self.updatePackages = updatePackages
        self.access = access
    }

    public struct Result: Sendable {
        /// The OCI layout holding the modified image (tag `latest`).
        public var layout: URL
        public var buildDirectory: URL
        public var originalUser: String
        var keep: Bool

        /// Removes the build directory once the image is pushed (unless
        /// `--keep-build-dir` asked to keep it).
        public func finish() {
            if !keep { try? FileManager.default.removeItem(at: buildDirectory) }
        }
    }

    /// The name of a build directory that is not kept, before the run's PID.
    public static let buildDirectoryPrefix = "imageprep-build-"

    /// Modifies `sourceImage`; `pullBase` false uses an image already in
    /// buildah's storage. `keepAs` names the built image in buildah's storage
    /// when the cleanup keeps it.
    public func modify(
        sourceImage: String, task: ModifyTask, appendTag: String, tlsVerify: Bool, pullBase: Bool = true,
        keepAs: String? = nil
    ) async throws(BuildError) -> Result {
        let id = UUID().uuidString.prefix(8).lowercased()
        // Kept: `build-ID`; else named for the run, so its owner removes it on a signal and the
        // next run removes it when its run is gone.
        let buildDirectory = workDirectory.appendingPathComponent(
            keepBuildDirectory ? "build-\(id)" : "\(Self.buildDirectoryPrefix)\(ProcessInfo.processInfo.processIdentifier)-\(id)")
        let contextDirectory = buildDirectory.appendingPathComponent("context")
        let layout = buildDirectory.appendingPathComponent("oci")
        let log = buildDirectory.appendingPathComponent("buildah.log")
        // A throwaway name, unless the cleanup keeps the built image.
        let scratch = "localhost/imageprep-modified/\(id):latest"
        let tag = cleanup == .full ? scratch : keepAs ?? scratch
        do {
            try FileManager.default.createDirectory(at: buildDirectory, withIntermediateDirectories: true)
        } catch {
            throw BuildError(image: sourceImage, step: "setup", message: "cannot create \(buildDirectory.path): \(error.localizedDescription)")
        }

        func failure(_ step: String, _ error: any Error) -> BuildError {
            let kept = keepBuildDirectory ? buildDirectory.path : nil
            if !keepBuildDirectory { try? FileManager.default.removeItem(at: buildDirectory) }
            if let failed = error as? CommandRunner.Failure {
                return BuildError(
                    image: sourceImage, step: step, message: "\(failed.command) failed (\(failed.status))",
                    outputTail: failed.output, buildDirectory: kept)
            }
            return BuildError(image: sourceImage, step: step, message: "\(error)", buildDirectory: kept)
        }

        if pullBase {
            do { try await buildah.pull(sourceImage, tlsVerify: tlsVerify, access: access, log: log) } catch { throw failure("pull base", error) }
        }
        let user: String
        do { user = try await buildah.user(of: sourceImage) } catch { throw failure("read original user", error) }
        let context: BuildContext
        do {
            context = try BuildContext.write(
                task: task, sourceImage: sourceImage, appendTag: appendTag, originalUser: user, into: contextDirectory,
                updatePackages: updatePackages)
        } catch {
            throw failure("prepare \(task.name)", error)
        }
        do { try await buildah.build(context, tag: tag, tlsVerify: tlsVerify, access: access, log: log) } catch { throw failure("build \(task.name)", error) }
        do { try await buildah.pushToOCILayout(tag, directory: layout, log: log) } catch { throw failure("export", error) }
        switch cleanup {
        case .full:
            try? await buildah.removeImage(tag, log: log)
            if pullBase { try? await buildah.removeImage(sourceImage, log: log) }
        case .partial:
            if pullBase { try? await buildah.removeImage(sourceImage, log: log) }
        case .none:
            break
        }
        if !keepBuildDirectory { try? FileManager.default.removeItem(at: contextDirectory) }
        return Result(layout: layout, buildDirectory: buildDirectory, originalUser: user, keep: keepBuildDirectory)
    }
}
