import Foundation
import ImagePrepConcurrency
import ImagePrepFiles
import ImagePrepBuild
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// Copies a locally built image (`containers-storage:NAME`) to a registry: buildah writes it
/// from local container storage (`--buildah-root`, `--buildah-runroot`, `--storage-driver`
/// apply) to an OCI layout, which the registry client pushes as it pushes built images
/// (blobs the destination has are skipped, the manifest put byte for byte).
struct LocalImageCopy {
    let copier: ImageCopier
    let options: ModificationOptions

    struct Report {
        var image: Buildah.LocalImage
        var push: OCILayoutPush.Report
    }

    /// `name` is without `containers-storage:`; the error for a missing image names it.
    /// `mountFrom` and `base` as `OCILayoutPush.push` takes them (a modified image's base
    /// layers pushed as the base's own blobs).
    func copy(_ name: String, to target: Reference, mountFrom: [String] = [], base: OCILayoutPush.Base? = nil) async throws -> Report {
        let buildah = options.buildah
        let image = try await find(name)
        let directory = URL(fileURLWithPath: RunTemporaries.newPath(in: options.workDirectory.path, prefix: "imageprep-local-"))
        defer { RunTemporaries.release(directory.path) }
        let layout = directory.appendingPathComponent("oci")
        let log = directory.appendingPathComponent("buildah.log")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            // By ID: the image found, whatever else the name might resolve to meanwhile.
            try await buildah.pushToOCILayout(image.id, directory: layout, log: log)
        } catch let failure as CommandRunner.Failure {
            throw BuildError(
                image: ImageName.containersStoragePrefix + name, step: "export from local container storage",
                message: "\(failure.command) failed (\(failure.status))", outputTail: failure.output)
        }
        let push = try await OCILayoutPush(copier: copier).push(layout: layout, to: target, mountFrom: mountFrom, base: base)
        return Report(image: image, push: push)
    }

    /// The image local storage has under `name`, resolved as podman resolves it.
    func find(_ name: String) async throws -> Buildah.LocalImage {
        let full = ImageName.containersStoragePrefix + name
        let found: Buildah.LocalImage?
        do {
            found = try await options.buildah.localImage(name)
        } catch let failure as CommandRunner.Failure {
            throw BuildError(
                image: full, step: "read local container storage", message: "\(failure.command) failed (\(failure.status))",
                outputTail: failure.output)
        }
        guard let found else {
            let storage = options.buildah.root.map { " at \($0)" } ?? ""
            let alias = ImageName.registry(of: name) == nil ? " (nor localhost/\(name))" : ""
            throw BuildError(
                image: full, step: "read local container storage",
                message: "no image \(name)\(alias) in local container storage\(storage): build or tag it there, "
                    + "or give the --buildah-root and --storage-driver of the storage that has it")
        }
        return found
    }
}
