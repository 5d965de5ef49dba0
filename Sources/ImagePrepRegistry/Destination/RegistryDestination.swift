import Foundation
import ImagePrepOCI

/// A registry that accepts uploads: everything goes through its push API.
public struct RegistryDestination: ImageDestination {
    public let client: RegistryClient

    public init(client: RegistryClient) {
        self.client = client
    }

    public func manifest(_ reference: Reference) async throws -> Descriptor? {
        try await client.headManifest(reference)
    }

    /// One `POST ?mount=` from the first candidate (the registry answers for that one only),
    /// or without candidates from `repository` itself: 201 means the blob is there (mounted
    /// or present), 202 opens the upload session the transfer then uses. No `HEAD` first.
    public func mount(_ descriptor: Descriptor, into repository: Reference, candidates: [String]) async throws -> MountAttempt {
        let from = candidates.first ?? repository.repository
        switch try await client.mountBlob(descriptor.digest, from: from, into: repository) {
        case .mounted: return from == repository.repository ? .present : .mounted
        case .uploadStarted(let location): return .notMounted(uploadLocation: location)
        }
    }

    public func putBlob(
        _ descriptor: Descriptor, from source: BlobSource, into repository: Reference, uploadLocation: String?,
        attempts: RetryBudget?, progress: ByteProgress
    ) async throws -> Int64 {
        switch source {
        case .registry(let origin):
            return try await client.copyBlob(
                descriptor, from: origin, to: repository, uploadLocation: uploadLocation, attempts: attempts,
                progress: progress)
        case .file(let file):
            try await client.pushBlob(file: file, descriptor: descriptor, to: repository, uploadLocation: uploadLocation)
        case .data(let data):
            try await client.upload(.data(data), digest: descriptor.digest, to: repository, uploadLocation: uploadLocation)
        }
        return descriptor.size
    }

    public func putManifest(_ bytes: Data, mediaType: MediaType, to reference: Reference) async throws {
        try await client.pushManifest(bytes, mediaType: mediaType, to: reference)
    }
}
