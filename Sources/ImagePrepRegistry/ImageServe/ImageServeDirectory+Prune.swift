import Foundation
import ImagePrepOCI

#if canImport(Glibc)
import Glibc
#endif

/// A tag of a destination, with what `image prune` orders tags by.
public struct TaggedImage: Sendable, Equatable {
    public var repository: String
    public var tag: String
    /// The manifest (or manifest list) the tag names.
    public var digest: Digest?
    /// The image config's `created` (RFC 3339), the first platform's for a list; nil when
    /// the config has none or cannot be read.
    public var created: String?

    public init(repository: String, tag: String, digest: Digest?, created: String?) {
        self.repository = repository
        self.tag = tag
        self.digest = digest
        self.created = created
    }
}

/// One thing a prune removes (or, in a dry run, would remove).
public struct PruneRemoval: Sendable, Equatable {
    public enum Kind: String, Sendable { case tag, manifest, blob }
    public var kind: Kind
    public var repository: String
    /// The tag, the manifest's digest, or the blob's file name.
    public var name: String
    /// The bytes removing it frees: its files whose last link it removes (a blob hard-linked
    /// into a repository that keeps it frees nothing).
    public var bytes: Int64

    public init(kind: Kind, repository: String, name: String, bytes: Int64) {
        self.kind = kind
        self.repository = repository
        self.name = name
        self.bytes = bytes
    }
}

extension ImageServeDirectory {
    /// Every tag of every repository, with the digest it names and its config's `created`.
    public func taggedImages() -> [TaggedImage] {
        repositories().flatMap { repository in
            tags(of: repository).map { tag in
                let digest = typeMap(repository, tag: tag)?.taggedDigest
                return TaggedImage(repository: repository, tag: tag, digest: digest, created: digest.flatMap { created(of: $0, in: repository) })
            }
        }
    }

    /// Removes the tags `select` picks from ``taggedImages()``, then the manifests and blobs no
    /// remaining tag needs, under the run lock `prepare` takes (so no run writes meanwhile).
    /// Ordered for an httpd serving the directory: every type map first (with the tags lists
    /// and catalog), then the manifests, then the blobs, then repositories left without tags;
    /// a manifest is therefore never served after one of its blobs is gone, and a pull
    /// started during the prune gets a whole image or a 404. `dryRun` returns the same list
    /// and removes nothing.
    public func prune(
        dryRun: Bool, select: ([TaggedImage]) -> [TaggedImage]
    ) throws(ImageServeError) -> [PruneRemoval] {
        endWriting()
        let lock = try DirectoryLock.take(root.appendingPathComponent(".imageprep.lock", isDirectory: false), exclusive: true)
        defer { withExtendedLifetime(lock) {} }

        let removed = Dictionary(grouping: select(taggedImages()), by: \.repository)
        var tags: [(repository: String, file: URL)] = []
        var files: [(removal: PruneRemoval, url: URL)] = []
        var emptied: [String] = []
        for repository in removed.keys.sorted() {
            let names = Set(removed[repository]!.map(\.tag))
            for tag in names.sorted() {
                let file = typeMapFile(repository, tag: tag)
                try ImageServeFiles.refuseLinks(above: file, under: root)
                tags.append((repository, file))
                files.append((PruneRemoval(kind: .tag, repository: repository, name: tag, bytes: 0), file))
            }
            let remaining = self.tags(of: repository).filter { !names.contains($0) }
            if remaining.isEmpty { emptied.append(repository) }
            let garbage = unreferenced(repository, keeping: remaining)
            for url in garbage.manifests {
                files.append((PruneRemoval(kind: .manifest, repository: repository, name: url.lastPathComponent, bytes: 0), url))
            }
            for url in garbage.blobs {
                files.append((PruneRemoval(kind: .blob, repository: repository, name: url.lastPathComponent, bytes: 0), url))
            }
        }
        let freed = Self.bytesFreed(files.map(\.url))
        let removals = files.indices.map { index in
            var removal = files[index].removal
            removal.bytes = freed[index]
            return removal
        }
        guard !dryRun else { return removals }

        for (repository, file) in tags { try removeTag(repository, file: file) }
        for repository in removed.keys.sorted() { try rebuildAfterDelete(repository) }
        for (removal, url) in files where removal.kind == .manifest { try remove(url) }
        for (removal, url) in files where removal.kind == .blob { try remove(url) }
        for repository in emptied {
            try removeRepository(repository)
            try rebuildAfterDelete(repository)
        }
        return removals
    }

    /// The config's `created` of the image `digest` names in `repository` (the first
    /// platform's for a manifest list).
    private func created(of digest: Digest, in repository: String, depth: Int = 0) -> String? {
        let file = manifestsDirectory(repository).appendingPathComponent("\(digest)/index.json", isDirectory: false)
        guard depth < 2, let data = ImageServeFiles.read(file, under: root) else { return nil }
        guard let manifest = try? JSONDecoder().decode(Manifest.self, from: data) else {
            guard let first = (try? JSONDecoder().decode(Index.self, from: data))?.manifests.first else { return nil }
            return created(of: first.digest, in: repository, depth: depth + 1)
        }
        let config = blobsDirectory(repository).appendingPathComponent(Self.blobName(manifest.config.digest, mediaType: manifest.config.mediaType), isDirectory: false)
        guard let bytes = ImageServeFiles.read(config, under: root) else { return nil }
        return (try? JSONDecoder().decode(ImageConfig.self, from: bytes))?.created
    }

    /// For each of `urls` (files, or directories taken whole), the bytes its removal frees:
    /// the size of each regular file whose every link is among those removed, counted once,
    /// at the first url that removes its last link.
    static func bytesFreed(_ urls: [URL]) -> [Int64] {
        struct Inode: Hashable { var device: UInt64; var inode: UInt64 }
        var files: [[(Inode, Int64, UInt64)]] = []
        func walk(_ path: String, into list: inout [(Inode, Int64, UInt64)]) {
            var info = stat()
            guard lstat(path, &info) == 0 else { return }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                list.append((Inode(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)), Int64(info.st_size), UInt64(info.st_nlink)))
            case S_IFDIR:
                for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { walk(path + "/" + name, into: &list) }
            default:
                break
            }
        }
        for url in urls {
            var list: [(Inode, Int64, UInt64)] = []
            walk(url.path, into: &list)
            files.append(list)
        }
        var links: [Inode: UInt64] = [:]
        var freed = Array(repeating: Int64(0), count: urls.count)
        for (index, list) in files.enumerated() {
            for (inode, size, count) in list {
                let seen = (links[inode] ?? 0) + 1
                links[inode] = seen
                if seen == count { freed[index] = freed[index].addingReportingOverflow(size).partialValue }
            }
        }
        return freed
    }
}
