import Foundation
import ImagePrepConcurrency
import ImagePrepOCI

/// An image-serve registry (httpd serving a directory, no push API) as a destination: its
/// directory is written instead, blobs read from their sources with `client`.
public struct ImageServeDestination: ImageDestination {
    public let directory: ImageServeDirectory
    let client: RegistryClient

    public init(directory: ImageServeDirectory, client: RegistryClient) {
        self.directory = directory
        self.client = client
    }

    /// Reads the files a manifest names (once per run for each) off the cooperative pool. A
    /// tag found there has its repository's listings reconciled with the type maps.
    public func manifest(_ reference: Reference) async throws -> Descriptor? {
        let directory = directory
        return try await BlockingWork.run(name: "image-serve check") {
            if let digest = reference.digest { return directory.manifest(digest, in: reference.repository) }
            let found = directory.taggedManifest(reference.repository, tag: reference.tag ?? "latest")
            if found != nil { try directory.reconcileListings(reference.repository) }
            return found
        }
    }

    /// Present when the repository's directory has the blob, else a hard link from any
    /// repository of the directory that holds it.
    public func mount(_ descriptor: Descriptor, into repository: Reference, candidates: [String]) async throws -> MountAttempt {
        let directory = directory
        return try await BlockingWork.run(name: "image-serve mount") {
            if directory.blobFile(descriptor, in: repository.repository) != nil { return .present }
            return try directory.link(descriptor, into: repository.repository, candidates: candidates)
                ? .mounted : .notMounted(uploadLocation: nil)
        }
    }

    public func putBlob(
        _ descriptor: Descriptor, from source: BlobSource, into repository: Reference, uploadLocation: String?,
        attempts: RetryBudget?, progress: ByteProgress
    ) async throws -> Int64 {
        let client = client
        return try await directory.writeBlob(descriptor, into: repository.repository, verifiedByFill: source.verifiesItself) { file in
            try await source.fill(file, descriptor: descriptor, client: client, attempts: attempts, progress: progress)
        }
    }

    public func putManifest(_ bytes: Data, mediaType: MediaType, to reference: Reference) async throws {
        try directory.writeManifest(
            bytes, mediaType: mediaType, repository: reference.repository,
            tag: reference.digest == nil ? (reference.tag ?? "latest") : nil)
    }
}
