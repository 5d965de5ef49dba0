import Foundation
import ImagePrepBuild
import ImagePrepConcurrency
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

extension ImageOperations {
    /// What `image copy` did when local container storage is one of its ends.
    public struct LocalCopyReport: Sendable {
        /// The image in local storage: the one read, or the one written.
        public var imageID: String
        /// The manifest pushed (a local source), nil when the destination is local storage.
        public var digest: Digest?
        public var blobs: BlobPlacementCounts
    }

    /// `image copy` with `containers-storage:NAME` as the source (pushed as a locally built
    /// image is), the destination (written through an OCI layout and loaded by buildah, as
    /// upstream's hotfixes are kept), or both (another name for the same image).
    public func copyLocal(from source: String, to destination: String) async throws -> LocalCopyReport {
        let local = LocalImageCopy(copier: ImageCopier(client: client, destinations: destinations), options: modification)
        switch (ImageName.isLocal(source), ImageName.isLocal(destination)) {
        case (true, true):
            let image = try await local.find(ImageName.withoutStoragePrefix(source))
            let log = URL(fileURLWithPath: "/dev/null")
            do {
                try await modification.buildah.tag(image.id, as: ImageName.withoutStoragePrefix(destination), log: log)
            } catch let failure as CommandRunner.Failure {
                throw BuildError(image: destination, step: "tag in local container storage",
                                 message: "\(failure.command) failed (\(failure.status))", outputTail: failure.output)
            }
            return LocalCopyReport(imageID: image.id, digest: nil, blobs: BlobPlacementCounts())
        case (true, false):
            let report = try await local.copy(ImageName.withoutStoragePrefix(source), to: try Self.reference(destination))
            return LocalCopyReport(imageID: report.image.id, digest: report.push.digest, blobs: report.push.blobs)
        case (false, true):
            let sourceReference = try Self.reference(source)
            try sources.checkNotBlocked([sourceReference])
            let report = try await LocalStorageWrite(client: client, options: modification).write(
                as: ImageName.withoutStoragePrefix(destination), like: sourceReference
            ) { copier, target in
                return try await sources.read(sourceReference) { try await copier.copy(from: $0, to: target) }.value.blobs
            }
            return LocalCopyReport(imageID: report.imageID, digest: nil, blobs: report.blobs)
        case (false, false):
            // Two registry images: the registry copy, not this.
            throw PrepareError.noLocalSide(source: source, destination: destination)
        }
    }

    /// Removes `name` (`containers-storage:NAME`) from local storage: the name, or the image
    /// when it has no other.
    public func removeLocal(_ name: String) async throws {
        do {
            try await modification.buildah.untag(ImageName.withoutStoragePrefix(name), log: URL(fileURLWithPath: "/dev/null"))
        } catch let failure as CommandRunner.Failure {
            throw BuildError(image: name, step: "remove from local container storage",
                             message: "\(failure.command) failed (\(failure.status))", outputTail: failure.output)
        }
    }
}
