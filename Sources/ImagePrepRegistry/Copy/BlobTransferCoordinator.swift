import ImagePrepOCI

/// Makes sure a blob shared by images copied at the same time is transferred once per
/// destination registry, and remembers which repositories hold which blobs so later images
/// can mount them.
public actor BlobTransferCoordinator {
    struct Key: Hashable {
        var registry: String
        var digest: Digest
    }

    private struct Transfer {
        var repository: String
        var task: Task<BlobPlacement, any Error>
    }

    private var inFlight: [Key: Transfer] = [:]
    private var repositories: [Key: Set<String>] = [:]

    public init() {}

    /// Records that `repository` on `registry` holds the blob.
    public func record(_ digest: Digest, registry: String, repository: String) {
        repositories[Key(registry: registry, digest: digest), default: []].insert(repository)
    }

    /// Places the blob in `repository` through `transfer`, which gets the other repositories
    /// of the registry known to hold it. Waits for a transfer of the same blob to the same
    /// registry that is already running instead of starting a second one.
    func place(
        _ digest: Digest,
        registry: String,
        repository: String,
        transfer: @escaping @Sendable (_ knownRepositories: Set<String>) async throws -> BlobPlacement
    ) async throws -> BlobPlacement {
        let key = Key(registry: registry, digest: digest)
        while true {
            if repositories[key]?.contains(repository) == true { return .alreadyPresent }
            guard let running = inFlight[key] else { break }
            // Success or failure, look again: the blob may now be here or in a repository to
            // mount from; after a failure this caller tries itself.
            complete(key, running, await running.task.result)
        }
        let transfer = Transfer(repository: repository, task: Task { [known = repositories[key] ?? []] in
            try await transfer(known)
        })
        inFlight[key] = transfer
        let result = await transfer.task.result
        complete(key, transfer, result)
        return try result.get()
    }

    /// Bookkeeping after a transfer ends; whoever sees the end first does it.
    private func complete(_ key: Key, _ transfer: Transfer, _ result: Result<BlobPlacement, any Error>) {
        if case .success = result {
            repositories[key, default: []].insert(transfer.repository)
        }
        if inFlight[key]?.task == transfer.task {
            inFlight[key] = nil
        }
    }
}
