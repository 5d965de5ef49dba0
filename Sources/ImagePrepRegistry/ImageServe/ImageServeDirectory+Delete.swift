import Foundation

#if canImport(Glibc)
import Glibc
import ImagePrepOCI
#endif

extension ImageServeDirectory {
    /// Deletes a tag as tripleo-common's `delete_image` does: its type map goes, the tags list
    /// is rebuilt, then the manifests no remaining tag names (directly, or as a platform
    /// manifest of a list a tag names) and the blobs no remaining manifest names are removed;
    /// a repository left without tags is removed, and the catalog rebuilt. Waits for runs
    /// writing into the directory to finish. Returns the digest the tag named.
    public func delete(repository: String, tag: String) throws(ImageServeError) -> Digest {
        endWriting()
        let lock = try DirectoryLock.take(root.appendingPathComponent(".imageprep.lock", isDirectory: false), exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        let typeMapFile = typeMapFile(repository, tag: tag)
        try ImageServeFiles.refuseLinks(above: typeMapFile, under: root)
        guard let deleted = typeMap(repository, tag: tag)?.taggedDigest else {
            throw ImageServeError(path: typeMapFile.path, message: "no such tag: \(repository):\(tag)")
        }
        try removeTag(repository, file: typeMapFile)

        let garbage = unreferenced(repository, keeping: tags(of: repository))
        for url in garbage.manifests + garbage.blobs { try remove(url) }
        if tags(of: repository).isEmpty {
            try removeRepository(repository)
        }
        try rebuildAfterDelete(repository)
        return deleted
    }

    /// The manifest directories of `repository` no tag of `keeping` names (directly, or as a
    /// platform manifest of a list one names), and the blob files no remaining manifest names.
    func unreferenced(_ repository: String, keeping: [String]) -> (manifests: [URL], blobs: [URL]) {
        let manifests = manifestsDirectory(repository)
        var kept: Set<Digest> = []
        for other in keeping {
            for variant in typeMap(repository, tag: other)?.variants ?? [] {
                kept.insert(variant.digest)
                if let data = ImageServeFiles.read(manifests.appendingPathComponent("\(variant.digest)/index.json", isDirectory: false), under: root),
                   let index = try? JSONDecoder().decode(Index.self, from: data), variant.mediaType.isIndex
                {
                    kept.formUnion(index.manifests.map(\.digest))
                }
            }
        }
        var removedManifests: [URL] = []
        var blobs: Set<String> = []
        for name in ImageServeFiles.names(in: manifests, under: root) where ImageServeFiles.isDirectory(manifests.appendingPathComponent(name, isDirectory: false)) {
            let directory = manifests.appendingPathComponent(name, isDirectory: false)
            guard let digest = try? Digest(name), kept.contains(digest) else {
                removedManifests.append(directory)
                continue
            }
            if let data = ImageServeFiles.read(directory.appendingPathComponent("index.json", isDirectory: false), under: root),
               let manifest = try? JSONDecoder().decode(Manifest.self, from: data)
            {
                for blob in manifest.blobs { blobs.formUnion(["\(blob.digest)", "\(blob.digest).gz"]) }
            }
        }
        let blobsDirectory = blobsDirectory(repository)
        let removedBlobs = ImageServeFiles.names(in: blobsDirectory, under: root).filter { !blobs.contains($0) }
            .map { blobsDirectory.appendingPathComponent($0, isDirectory: false) }
        return (removedManifests.sorted { $0.path < $1.path }, removedBlobs.sorted { $0.path < $1.path })
    }

    /// Removes `repository`'s directory, and the namespace directories it leaves empty.
    func removeRepository(_ repository: String) throws(ImageServeError) {
        try remove(repositoryDirectory(repository))
        var parent = repositoryDirectory(repository).deletingLastPathComponent()
        while parent.path.hasPrefix(v2.path + "/"), rmdir(parent.path) == 0 {
            parent = parent.deletingLastPathComponent()
        }
    }

    /// Removes a file or directory of the repository, never following a link: one where a
    /// directory of ours should be is refused, and a link inside is removed, not its target.
    func remove(_ url: URL) throws(ImageServeError) {
        guard let parent = try DirectoryHandle.open(url.deletingLastPathComponent(), under: root, create: false) else { return }
        guard parent.remove(url.lastPathComponent) else { throw .errno(url.path, "cannot remove it") }
    }

    func removeTag(_ repository: String, file: URL) throws(ImageServeError) {
        guard let directory = try DirectoryHandle.open(file.deletingLastPathComponent(), under: root, create: false),
              unlinkat(directory.fd, file.lastPathComponent, 0) == 0
        else { throw .errno(file.path, "cannot remove the tag's type map") }
        directory.sync()
    }
}
