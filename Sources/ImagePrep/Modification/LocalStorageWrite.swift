import Foundation
import ImagePrepBuild
import ImagePrepConcurrency
import ImagePrepFiles
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// Writes an image into local container storage (what `buildah images` lists, with the
/// `--buildah-root`, `--buildah-runroot` and `--storage-driver` given): the copy pipeline
/// writes it, digests verified, into a run-private OCI layout, which buildah then loads under
/// the name asked for. The way in for `image copy … containers-storage:NAME` and for
/// hotfixes kept locally, as upstream's `image hotfix` leaves them.
struct LocalStorageWrite {
    let client: RegistryClient
    let options: ModificationOptions

    /// What the layout's image is put under (its `index.json` entry).
    static let layoutTag = "image"
    /// The registry the layout's references name: none the run reaches, so that nothing is
    /// taken to be there already because the source's registry has it (a base's layers).
    static let layoutRegistry = "containers-storage.invalid"

    struct Report {
        var imageID: String
        var blobs: BlobPlacementCounts
    }

    /// Runs `fill` with a copier whose every destination is a fresh OCI layout, and a
    /// reference (with `like`'s repository) to put the image under, then loads that image
    /// into local storage as `name`.
    func write(
        as name: String, like: Reference, _ fill: (ImageCopier, Reference) async throws -> BlobPlacementCounts
    ) async throws -> Report {
        let directory = URL(fileURLWithPath: RunTemporaries.newPath(in: Self.layoutParent(options.workDirectory.path), prefix: "imageprep-local-"))
        defer { RunTemporaries.release(directory.path) }
        let layout = try OCILayoutDestination(root: directory.appendingPathComponent("oci"), client: client)
        let copier = ImageCopier(client: client, destinations: DestinationRouter(client: client, every: layout))
        let target = Reference(registry: Self.layoutRegistry, repository: like.repository, tag: Self.layoutTag)
        let blobs = try await fill(copier, target)
        let log = directory.appendingPathComponent("buildah.log")
        do {
            let id = try await options.buildah.load(layout: layout.root, reference: Self.layoutTag, as: name, log: log)
            return Report(imageID: id, blobs: blobs)
        } catch let failure as CommandRunner.Failure {
            throw BuildError(
                image: ImageName.containersStoragePrefix + name, step: "load into local container storage",
                message: "\(failure.command) failed (\(failure.status))", outputTail: failure.output)
        }
    }

    /// Where the hand-off layout goes: the work directory, unless its path cannot be a
    /// repository name (uppercase letters, spaces…): buildah (1.28) names an image pulled
    /// from an OCI layout `localhost/<layout path>` before giving it the name asked for, and
    /// refuses a path that is no valid name. Then the system's temporary directory, or
    /// `/var/tmp`.
    static func layoutParent(_ workDirectory: String) -> String {
        func valid(_ path: String) -> Bool {
            !path.isEmpty && path.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || "/._-".unicodeScalars.contains($0) }
        }
        let standardized = URL(fileURLWithPath: workDirectory).standardizedFileURL.path
        if valid(standardized) { return standardized }
        let temporary = FileManager.default.temporaryDirectory.standardizedFileURL.path
        return valid(temporary) ? temporary : "/var/tmp"
    }

    /// Whether local storage has an image named `name`.
    func has(_ name: String) async throws -> Bool {
        do {
            return try await options.buildah.localImage(name) != nil
        } catch let failure as CommandRunner.Failure {
            throw BuildError(
                image: ImageName.containersStoragePrefix + name, step: "read local container storage",
                message: "\(failure.command) failed (\(failure.status))", outputTail: failure.output)
        }
    }
}

extension LocalStorageWrite {
    /// Thrown by a fill that decided nothing is to be written (the image is not a target).
    struct NothingToLoad: Error {}
}
