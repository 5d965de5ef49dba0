import Foundation
import ImagePrepConcurrency

#if canImport(Glibc)
import Glibc
import ImagePrepOCI
#endif

extension ImageServeDirectory {
    /// Writes a manifest's bytes as they are, then, with `tag`, the tag's type map, the tags
    /// list and the catalog. Nothing is written that already holds the same content.
    func writeManifest(_ bytes: Data, mediaType: MediaType, repository: String, tag: String?) throws(ImageServeError) {
        try beginWriting()
        syncBlobs(of: repository)
        let digest = Digest(of: bytes)
        let directory = manifestsDirectory(repository).appendingPathComponent(digest.description, isDirectory: false)
        let manifestFile = directory.appendingPathComponent("index.json", isDirectory: false)
        // A damaged index.json (or .htaccess) is rewritten; one holding these bytes is kept.
        if ImageServeFiles.read(manifestFile, under: root, limit: bytes.count + 1) != bytes {
            try ImageServeFiles.makeDirectory(directory, under: root)
            let headers = """
                Header set Content-Type "\(mediaType.rawValue)"
                Header set Docker-Content-Digest "\(digest)"
                Header set ETag "\(digest)"

                """
            // The .htaccess first: index.json's presence says both are complete.
            // Its directory is flushed once, with index.json's rename just after.
            try ImageServeFiles.writeIfChanged(
                Data(headers.utf8), to: directory.appendingPathComponent(".htaccess", isDirectory: false), under: root, syncDirectory: false)
            try ImageServeFiles.writeIfChanged(bytes, to: manifestFile, under: root)
        }
        guard let tag else { return }
        var variants = [TypeMap.Variant(mediaType: mediaType, digest: digest)]
        if mediaType.isIndex, let index = try? JSONDecoder().decode(Index.self, from: bytes), !index.manifests.isEmpty {
            // httpd offers the list and, to clients that do not accept lists, the amd64 (else
            // the first) image, as upstream's map does. Upstream's leaves the choice between
            // them to httpd, which serves the smaller one (the image) to clients accepting
            // both; a higher qs for the list serves them the tag's own digest.
            let entry = index.manifests.first { $0.platform?.architecture == "amd64" } ?? index.manifests[0]
            variants = [
                TypeMap.Variant(mediaType: mediaType, digest: digest, quality: "1"),
                TypeMap.Variant(mediaType: entry.mediaType, digest: entry.digest, quality: "0.5"),
            ]
        }
        let typeMap = TypeMap(tag: tag, variants: variants)
        try updateTags(repository, catalog: catalogAtEnd ? .atEndOfRun : .now) { () throws(ImageServeError) in
            try ImageServeFiles.writeIfChanged(Data(typeMap.text.utf8), to: typeMapFile(repository, tag: tag), under: root)
        }
    }

    func typeMapFile(_ repository: String, tag: String) -> URL {
        manifestsDirectory(repository).appendingPathComponent("\(tag).type-map", isDirectory: false)
    }

    /// When a tag's repository gets into the catalog.
    enum CatalogUpdate {
        case now
        /// Recorded for ``writeCatalog()``.
        case atEndOfRun
        case unchanged
    }

    /// Runs `change` under the tags lock, then rebuilds the repository's tags list and
    /// updates the catalog as `catalog` says, each written only when it changes.
    private func updateTags(
        _ repository: String, catalog: CatalogUpdate, _ change: () throws(ImageServeError) -> Void
    ) throws(ImageServeError) {
        let lock = try DirectoryLock.take(tagsLockFile, exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        try change()
        try rebuildTagsList(repository)
        switch catalog {
        case .now:
            try updateCatalog(adding: [repository])
        case .atEndOfRun:
            if self.catalog.withLock({ $0?.contains(repository) }) != true {
                unlistedRepositories.withLock { _ = $0.insert(repository) }
            }
        case .unchanged:
            break
        }
    }

    private var tagsLockFile: URL { root.appendingPathComponent(".imageprep-tags.lock", isDirectory: false) }

    /// Adds the repositories this run left for the end (``catalogAtEnd``) to the catalog, in
    /// one write under the tags lock.
    public func writeCatalog() throws(ImageServeError) {
        let unlisted = unlistedRepositories.withLock { (pending: inout Set<String>) in
            defer { pending = [] }
            return pending
        }
        guard !unlisted.isEmpty else { return }
        let lock = try DirectoryLock.take(tagsLockFile, exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        try updateCatalog(adding: unlisted)
    }

    /// Rebuilds `repository`'s tags list and the catalog from the type maps on disk (each
    /// written only when it differs), once per run for each repository: the listings a run
    /// killed between a tag's type map and them left stale are repaired by the next run
    /// that finds the tag.
    func reconcileListings(_ repository: String) throws(ImageServeError) {
        // The catalog covers every repository on disk: reconciled with the first.
        let (first, catalog) = reconciled.withLock { ($0.insert(repository).inserted, $0.count == 1) }
        guard first else { return }
        try beginWriting()
        try updateTags(repository, catalog: catalog ? .now : .unchanged) {}
    }

    /// The tags list (when the repository is still there) and the catalog after a delete.
    func rebuildAfterDelete(_ repository: String) throws(ImageServeError) {
        catalog.withLock { $0 = nil }
        openedBlobDirectories.withLock { $0.removeAll() }
        try updateTags(repository, catalog: .now) {}
    }

    private func rebuildTagsList(_ repository: String) throws(ImageServeError) {
        guard ImageServeFiles.isDirectory(repositoryDirectory(repository)) else { return }
        let tags = tags(of: repository)
        let list = "{\"name\": \"\(repository)\", \"tags\": [\(tags.map { "\"\($0)\"" }.joined(separator: ", "))]}"
        let directory = repositoryDirectory(repository).appendingPathComponent("tags", isDirectory: false)
        try ImageServeFiles.makeDirectory(directory, under: root)
        try ImageServeFiles.writeIfChanged(Data(list.utf8), to: directory.appendingPathComponent("list", isDirectory: false), under: root)
    }

    /// Writes the catalog with `added` in it (under the tags lock). The first time in a run
    /// it is rebuilt from a walk of the directory; after that repositories already listed
    /// change nothing, and new ones are added to what the file lists now (other runs writing
    /// into the directory add theirs the same way; only a delete, which excludes them, removes).
    private func updateCatalog(adding added: Set<String>) throws(ImageServeError) {
        let file = v2.appendingPathComponent("_catalog", isDirectory: false)
        let known = catalog.withLock { $0 }
        var repositories: Set<String>
        if let known {
            let new = added.subtracting(known)
            guard !new.isEmpty else { return }
            struct Listing: Decodable { var repositories: [String] }
            guard let data = ImageServeFiles.read(file, under: root),
                  let listed = try? JSONDecoder().decode(Listing.self, from: data)
            else {
                // A catalog that cannot be read is rebuilt from the directory.
                catalog.withLock { $0 = nil }
                return try updateCatalog(adding: added)
            }
            repositories = known.union(listed.repositories)
            for repository in new where ImageServeFiles.isDirectory(repositoryDirectory(repository)) {
                repositories.insert(repository)
            }
        } else {
            repositories = Set(self.repositories())
        }
        let list = "{\"repositories\": [\(repositories.sorted().map { "\"\($0)\"" }.joined(separator: ", "))]}"
        try ImageServeFiles.writeIfChanged(Data(list.utf8), to: file, under: root)
        catalog.withLock { $0 = repositories }
    }
}
