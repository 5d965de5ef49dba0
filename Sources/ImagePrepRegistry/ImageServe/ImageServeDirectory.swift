import Foundation
import ImagePrepConcurrency

#if canImport(Glibc)
import Glibc
import ImagePrepOCI
#endif

/// The undercloud's image-serve directory (`/var/lib/image-serve`), which httpd serves
/// read-only as a registry, in the layout tripleo-common 18.0.0 writes:
///
/// - `v2/index.json` holding `{}`; `v2/_catalog`; `v2/<repo>/tags/list`;
/// - `v2/<repo>/blobs/<digest>.gz` for layers and `v2/<repo>/blobs/<digest>` for configs, a
///   layer shared by repositories hard-linked (stored once);
/// - `v2/<repo>/manifests/<digest>/index.json` with the manifest's own bytes (its digest is
///   the source's) and an `.htaccess` setting its headers;
/// - `v2/<repo>/manifests/<tag>.type-map` naming the tag's manifest.
///
/// Every write is crash-safe (temporary name, digest checked, fsync, rename) and the tag's
/// type map comes last, so a killed run never leaves a tag naming missing files. A run holds
/// a shared lock on `.imageprep.lock` while it writes; deleting takes it exclusively, and the
/// tag metadata (type map, tags list, catalog) is updated under `.imageprep-tags.lock`.
public final class ImageServeDirectory: Sendable {
    public let root: URL
    /// digest → repositories known to hold the blob, read once from disk.
    private let holders = Locked<[Digest: Set<String>]?>(nil)
    private let writeLock = Locked<DirectoryLock?>(nil)
    /// The repositories whose listings this run has reconciled.
    private let reconciled = Locked<Set<String>>([])
    /// The catalog's repositories as this run knows them: from one walk of the directory the
    /// first time the catalog is written in a run, then kept as repositories are added.
    private let catalog = Locked<Set<String>?>(nil)
    /// The repositories' `blobs` directories opened this run (each walked down to once, see
    /// ``DirectoryHandle``): the run's shared lock keeps deletes out meanwhile, and a delete
    /// in this process forgets them. At most `openedLimit` descriptors are kept.
    private let openedBlobDirectories = Locked<[String: DirectoryHandle]>([:])
    private static let openedLimit = 256
    /// The files checked this run, and whether each was whole.
    private let checked = Locked<[CheckedFile: Bool]>([:])
    /// `blobs` directories with links not yet flushed, by path: flushed once before the next
    /// manifest of their repository is written (``syncBlobs(of:)``), not once per blob.
    private let unsyncedBlobDirectories = Locked<[String: DirectoryHandle]>([:])

    struct CheckedFile: Hashable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: Int
        var digest: Digest
    }

    /// Opens an existing directory; `v2/` and its `index.json` are created at the first write.
    public init(root: URL) throws(ImageServeError) {
        self.root = root.standardizedFileURL
        // The root itself may be a link (to a larger disk, say); nothing below it may.
        var info = stat()
        guard stat(self.root.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw ImageServeError(path: root.path, message: "no such directory")
        }
    }

    var v2: URL { root.appendingPathComponent("v2") }

    func repositoryDirectory(_ repository: String) -> URL { v2.appendingPathComponent(repository) }
    func blobsDirectory(_ repository: String) -> URL { repositoryDirectory(repository).appendingPathComponent("blobs") }
    func manifestsDirectory(_ repository: String) -> URL { repositoryDirectory(repository).appendingPathComponent("manifests") }

    /// `<digest>` for an image config, `<digest>.gz` for anything else (the name keeps `.gz`
    /// whatever the compression, as upstream's does; httpd's MultiViews serves both as
    /// `blobs/<digest>`).
    static func blobName(_ digest: Digest, mediaType: MediaType) -> String {
        isConfig(mediaType) ? digest.description : "\(digest).gz"
    }

    static func isConfig(_ mediaType: MediaType) -> Bool {
        mediaType == .dockerConfig || mediaType == .ociConfig || mediaType.rawValue.hasSuffix(".config.v1+json")
    }

    /// A blob file: its directory (opened without following links) and its name there.
    struct BlobLocation {
        var directory: DirectoryHandle
        var name: String
    }

    /// The blob's file in `repository`, under either name, when it is a whole copy (see
    /// ``isWhole(_:in:_:)``): a truncated or damaged file (what tripleo-common's exporter leaves
    /// when it is killed, as it writes in place) is not there, and is replaced when the blob is
    /// written or linked.
    public func blobFile(_ descriptor: Descriptor, in repository: String) -> URL? {
        wholeBlob(descriptor, in: repository).map { $0.directory.url.appendingPathComponent($0.name) }
    }

    /// `repository`'s `blobs` directory, opened once per run; nil when it is missing and not
    /// to be created.
    func blobsHandle(_ repository: String, create: Bool) throws(ImageServeError) -> DirectoryHandle? {
        if let opened = openedBlobDirectories.withLock({ $0[repository] }) { return opened }
        guard let opened = try DirectoryHandle.open(blobsDirectory(repository), under: root, create: create) else { return nil }
        openedBlobDirectories.withLock { directories in
            if directories.count >= Self.openedLimit { directories.removeAll() }
            directories[repository] = opened
        }
        return opened
    }

    func wholeBlob(_ descriptor: Descriptor, in repository: String) -> BlobLocation? {
        guard let blobs = try? blobsHandle(repository, create: false) else { return nil }
        for name in ["\(descriptor.digest).gz", descriptor.digest.description] where blobs.kind(name) != nil {
            return isWhole(name, in: blobs, descriptor) ? BlobLocation(directory: blobs, name: name) : nil
        }
        return nil
    }

    /// Whether `name` in `directory` is a regular file (not a link) of `descriptor`'s size
    /// whose bytes have its digest: checked once per run for each file (a hard link is the
    /// same file), and read only when imageprep has no record of it (the
    /// `user.imageprep.digest` attribute set on what it verified and flushed to disk).
    func isWhole(_ name: String, in directory: DirectoryHandle, _ descriptor: Descriptor) -> Bool {
        let fd = directory.openFile(name)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int64(info.st_size) == descriptor.size else {
            return false
        }
        let identity = CheckedFile(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modified: info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec, digest: descriptor.digest)
        if let known = checked.withLock({ $0[identity] }) { return known }
        var whole = ImageServeFiles.recordedDigest(fd) == descriptor.digest
        if !whole, ImageServeFiles.digest(of: fd, algorithm: descriptor.digest.algorithm) == descriptor.digest {
            // Verified now: flushed and recorded, so later runs need not read it again.
            fsync(fd)
            ImageServeFiles.recordDigest(descriptor.digest, on: fd)
            whole = true
        }
        checked.withLock { $0[identity] = whole }
        return whole
    }

    // MARK: Writing

    /// Takes the run's shared lock (once) and makes sure `v2/index.json` exists.
    func beginWriting() throws(ImageServeError) {
        try writeLock.withLock { (lock: inout DirectoryLock?) throws(ImageServeError) in
            guard lock == nil else { return }
            lock = try DirectoryLock(root.appendingPathComponent(".imageprep.lock"), exclusive: false)
        }
        let index = v2.appendingPathComponent("index.json")
        if !ImageServeFiles.exists(index.path) {
            try ImageServeFiles.makeDirectory(v2, under: root)
            try ImageServeFiles.writeIfChanged(Data("{}".utf8), to: index, under: root)
        }
    }

    /// Releases the run's shared lock.
    func endWriting() {
        writeLock.withLock { $0 = nil }
    }

    /// Hard-links a blob another repository holds whole into `repository` (the `candidates`
    /// first, then any repository of the directory). False when no repository holds it.
    func link(_ descriptor: Descriptor, into repository: String, candidates: [String]) throws(ImageServeError) -> Bool {
        try beginWriting()
        let others = candidates + knownHolders(of: descriptor.digest).subtracting(candidates).sorted()
        for other in others where other != repository {
            guard let existing = wholeBlob(descriptor, in: other),
                  let blobs = try blobsHandle(repository, create: true)
            else { continue }
            // Same name as the holder's: a config stays a config.
            if try place(existing, as: BlobLocation(directory: blobs, name: existing.name), descriptor, moving: false) {
                record(descriptor.digest, in: repository)
                return true
            }
        }
        return false
    }

    /// Puts the whole blob `source` at `final`: hard-linked when nothing is there; a whole
    /// copy already there (a concurrent writer's) is kept; a file there that is not whole is
    /// replaced with one rename. `moving` consumes `source` (a temporary of ours). False when
    /// `source` is gone.
    private func place(_ source: BlobLocation, as final: BlobLocation, _ descriptor: Descriptor, moving: Bool)
        throws(ImageServeError) -> Bool
    {
        let target = final.directory
        func consume() { if moving { unlinkat(source.directory.fd, source.name, 0) } }
        if linkat(source.directory.fd, source.name, target.fd, final.name, 0) == 0 {
            deferSync(target)
            consume()
            return true
        }
        let path = target.url.appendingPathComponent(final.name).path
        switch Glibc.errno {
        case EEXIST: break
        case ENOENT: return false
        default: throw .errno(path, "cannot link the blob")
        }
        if isWhole(final.name, in: target, descriptor) {
            consume()
            return true
        }
        var replacement = source.name
        if !moving {
            replacement = RunTemporaries.name(prefix: ImageServeFiles.temporaryPrefix)
            guard linkat(source.directory.fd, source.name, target.fd, replacement, 0) == 0 else {
                if Glibc.errno == ENOENT { return false }
                throw .errno(path, "cannot link the blob")
            }
        }
        if renameat(target.fd, replacement, target.fd, final.name) != 0 {
            let error = ImageServeError.errno(path, "cannot replace the damaged file")
            unlinkat(target.fd, replacement, 0)
            throw error
        }
        deferSync(target)
        return true
    }

    /// Notes that `directory` has new links to flush before a manifest names them.
    private func deferSync(_ directory: DirectoryHandle) {
        unsyncedBlobDirectories.withLock { $0[directory.url.path] = directory }
    }

    /// Flushes the links in `repository`'s `blobs` directory, once for all the blobs placed
    /// there since the last flush: before a manifest names them, they are on disk. Under the
    /// lock, so a writer that finds nothing to flush knows another's flush has finished.
    func syncBlobs(of repository: String) {
        let path = blobsDirectory(repository).standardizedFileURL.path
        unsyncedBlobDirectories.withLock { directories in
            directories.removeValue(forKey: path)?.sync()
        }
    }

    /// Writes a blob into `repository`: `fill` writes its bytes into the temporary file; its
    /// digest (here, or by `fill` when `verifiedByFill`) and size are checked against
    /// `descriptor` before it is flushed and linked into place. Returns the bytes written.
    func writeBlob(
        _ descriptor: Descriptor, into repository: String, verifiedByFill: Bool = false,
        fill: (BlobFile) async throws -> Void
    ) async throws -> Int64 {
        try beginWriting()
        let blobs = blobsDirectory(repository)
        guard let directory = try blobsHandle(repository, create: true) else {
            throw ImageServeError(path: blobs.path, message: "cannot create the directory")
        }
        let name = Self.blobName(descriptor.digest, mediaType: descriptor.mediaType)
        // A fill that verifies what it writes (a registry fetch checks the digest of the very
        // bytes it hands on, and throws before returning otherwise) is not hashed twice.
        let file = try BlobFile(in: directory, for: name, hashing: !verifiedByFill)
        do {
            try await fill(file)
            guard file.count == descriptor.size else {
                throw ImageServeError(path: blobs.path, message: "blob \(descriptor.digest) has \(file.count) bytes, expected \(descriptor.size)")
            }
            if !verifiedByFill, let digest = file.digest, digest != descriptor.digest {
                throw ImageServeError(path: blobs.path, message: "blob \(descriptor.digest) arrived with digest \(digest)")
            }
            try file.finish(recording: descriptor.digest)
            // A concurrent writer's whole copy of the same bytes wins; a damaged file is replaced.
            let written = BlobLocation(directory: directory, name: file.name)
            guard try place(written, as: BlobLocation(directory: directory, name: name), descriptor, moving: true) else {
                throw ImageServeError(path: blobs.path, message: "the written blob \(descriptor.digest) disappeared")
            }
        } catch let error as ImageServeError where error.isOutOfSpace {
            // The partial file goes first: the space named is what the blob still lacks.
            file.abandon()
            throw ImageServeError.outOfSpace(blobs, writing: "blob \(descriptor.digest)", size: descriptor.size)
        } catch {
            file.abandon()
            throw error
        }
        record(descriptor.digest, in: repository)
        return descriptor.size
    }

    /// Writes a manifest's bytes as they are, then, with `tag`, the tag's type map, the tags
    /// list and the catalog. Nothing is written that already holds the same content.
    func writeManifest(_ bytes: Data, mediaType: MediaType, repository: String, tag: String?) throws(ImageServeError) {
        try beginWriting()
        syncBlobs(of: repository)
        let digest = Digest(of: bytes)
        let directory = manifestsDirectory(repository).appendingPathComponent(digest.description)
        let manifestFile = directory.appendingPathComponent("index.json")
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
                Data(headers.utf8), to: directory.appendingPathComponent(".htaccess"), under: root, syncDirectory: false)
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
        try updateTags(repository) { () throws(ImageServeError) in
            try ImageServeFiles.writeIfChanged(Data(typeMap.text.utf8), to: typeMapFile(repository, tag: tag), under: root)
        }
    }

    func typeMapFile(_ repository: String, tag: String) -> URL {
        manifestsDirectory(repository).appendingPathComponent("\(tag).type-map")
    }

    /// Runs `change` under the tags lock, then rebuilds the repository's tags list and (unless
    /// `catalog` is false) the catalog, each written only when it changes.
    private func updateTags(
        _ repository: String, catalog: Bool = true, _ change: () throws(ImageServeError) -> Void
    ) throws(ImageServeError) {
        let lock = try DirectoryLock(root.appendingPathComponent(".imageprep-tags.lock"), exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        try change()
        try rebuildTagsList(repository)
        if catalog { try updateCatalog(adding: repository) }
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
        try updateTags(repository, catalog: catalog) {}
    }

    /// The tags list (when the repository is still there) and the catalog after a delete.
    func rebuildAfterDelete(_ repository: String) throws(ImageServeError) {
        catalog.withLock { $0 = nil }
        openedBlobDirectories.withLock { $0.removeAll() }
        try updateTags(repository) {}
    }

    private func rebuildTagsList(_ repository: String) throws(ImageServeError) {
        guard ImageServeFiles.isDirectory(repositoryDirectory(repository)) else { return }
        let tags = tags(of: repository)
        let list = "{\"name\": \"\(repository)\", \"tags\": [\(tags.map { "\"\($0)\"" }.joined(separator: ", "))]}"
        let directory = repositoryDirectory(repository).appendingPathComponent("tags")
        try ImageServeFiles.makeDirectory(directory, under: root)
        try ImageServeFiles.writeIfChanged(Data(list.utf8), to: directory.appendingPathComponent("list"), under: root)
    }

    /// Writes the catalog with `repository` in it (under the tags lock). The first time in a
    /// run it is rebuilt from a walk of the directory; after that a repository already listed
    /// changes nothing, and a new one is added to what the file lists now (other runs writing
    /// into the directory add theirs the same way; only a delete, which excludes them, removes).
    private func updateCatalog(adding repository: String) throws(ImageServeError) {
        let file = v2.appendingPathComponent("_catalog")
        let known = catalog.withLock { $0 }
        var repositories: Set<String>
        if let known {
            guard !known.contains(repository) else { return }
            struct Listing: Decodable { var repositories: [String] }
            guard let data = ImageServeFiles.read(file, under: root),
                  let listed = try? JSONDecoder().decode(Listing.self, from: data)
            else {
                // A catalog that cannot be read is rebuilt from the directory.
                catalog.withLock { $0 = nil }
                return try updateCatalog(adding: repository)
            }
            repositories = known.union(listed.repositories)
            if ImageServeFiles.isDirectory(repositoryDirectory(repository)) { repositories.insert(repository) }
        } else {
            repositories = Set(self.repositories())
        }
        let list = "{\"repositories\": [\(repositories.sorted().map { "\"\($0)\"" }.joined(separator: ", "))]}"
        try ImageServeFiles.writeIfChanged(Data(list.utf8), to: file, under: root)
        catalog.withLock { $0 = repositories }
    }

    // MARK: Reading

    /// The tags of `repository`: its type maps' names, sorted.
    public func tags(of repository: String) -> [String] {
        ImageServeFiles.names(in: manifestsDirectory(repository), under: root)
            .filter { $0.hasSuffix(".type-map") && !$0.hasPrefix(".") }
            .map { String($0.dropLast(".type-map".count)) }
            .sorted()
    }

    /// Every repository: the directories under `v2/` that hold `blobs`, `manifests` and
    /// `tags`, as tripleo-common's catalog counts them.
    public func repositories() -> [String] {
        var found: [String] = []
        func walk(_ directory: URL, _ path: String) {
            let names = Set(ImageServeFiles.names(in: directory, under: root))
            if !path.isEmpty, names.isSuperset(of: ["blobs", "manifests", "tags"]) { found.append(path) }
            for name in names.sorted() where !name.hasPrefix(".") && !["blobs", "manifests", "tags"].contains(name) {
                let child = directory.appendingPathComponent(name)
                if ImageServeFiles.isDirectory(child) { walk(child, path.isEmpty ? name : "\(path)/\(name)") }
            }
        }
        walk(v2, "")
        return found.sorted()
    }

    /// The manifest (or manifest list) `repository:tag` names, nil when the tag is not there.
    public func taggedDigest(repository: String, tag: String) -> Digest? {
        typeMap(repository, tag: tag)?.taggedDigest
    }

    func typeMap(_ repository: String, tag: String) -> TypeMap? {
        guard let data = ImageServeFiles.read(typeMapFile(repository, tag: tag), under: root, limit: 64 * 1024) else { return nil }
        return TypeMap.parse(String(decoding: data, as: UTF8.self), tag: tag)
    }

    /// The manifest stored under `digest` when it is whole: its `index.json` has that digest
    /// and everything it names is whole too (an image's blobs, a list's manifests), so a run
    /// never skips an image a killed exporter left damaged. Its size and media type (from
    /// its `.htaccess`).
    func manifest(_ digest: Digest, in repository: String, depth: Int = 0) -> Descriptor? {
        let directory = manifestsDirectory(repository).appendingPathComponent(digest.description)
        guard depth < 2, let bytes = ImageServeFiles.read(directory.appendingPathComponent("index.json"), under: root, limit: 8 * 1024 * 1024),
              Digest(of: bytes, algorithm: digest.algorithm) == digest
        else { return nil }
        var mediaType = MediaType.dockerManifest
        if let htaccess = ImageServeFiles.read(directory.appendingPathComponent(".htaccess"), under: root, limit: 64 * 1024) {
            for line in String(decoding: htaccess, as: UTF8.self).split(separator: "\n") where line.contains("Content-Type") {
                let parts = line.split(separator: "\"")
                if parts.count >= 2 { mediaType = MediaType(rawValue: String(parts[1])) }
            }
        }
        if mediaType.isIndex {
            guard let index = try? JSONDecoder().decode(Index.self, from: bytes),
                  index.manifests.allSatisfy({ manifest($0.digest, in: repository, depth: depth + 1) != nil })
            else { return nil }
        } else {
            guard let manifest = try? JSONDecoder().decode(Manifest.self, from: bytes),
                  manifest.blobs.allSatisfy({ blobFile($0, in: repository) != nil })
            else { return nil }
        }
        return Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }

    /// The manifest `tag` names, when its type map names one that is there.
    func taggedManifest(_ repository: String, tag: String) -> Descriptor? {
        guard let digest = typeMap(repository, tag: tag)?.taggedDigest else { return nil }
        return manifest(digest, in: repository)
    }

    // MARK: Blob holders

    private func knownHolders(of digest: Digest) -> Set<String> {
        holders.withLock { holders in
            if holders == nil { holders = scanHolders() }
            return holders?[digest] ?? []
        }
    }

    private func record(_ digest: Digest, in repository: String) {
        holders.withLock { holders in
            if holders == nil { holders = scanHolders() }
            holders?[digest, default: []].insert(repository)
        }
    }

    /// Which repositories hold which blobs, from one listing of each `blobs` directory. The
    /// temporary files of runs that are gone (by the PID in their names; a name without one,
    /// from an older imageprep, once a day old) are removed on the way.
    private func scanHolders() -> [Digest: Set<String>] {
        var found: [Digest: Set<String>] = [:]
        let stale = Date().addingTimeInterval(-24 * 3600).timeIntervalSince1970
        func walk(_ directory: URL, _ path: String) {
            for name in ImageServeFiles.names(in: directory, under: root) where !name.hasPrefix(".") {
                let child = directory.appendingPathComponent(name)
                if name == "blobs", !path.isEmpty {
                    guard let blobs = try? DirectoryHandle.open(child, under: root, create: false) else { continue }
                    for blob in blobs.names() {
                        if blob.hasPrefix(ImageServeFiles.temporaryPrefix) {
                            if let owner = RunTemporaries.owner(of: blob, prefix: ImageServeFiles.temporaryPrefix) {
                                if owner != getpid(), !RunTemporaries.isRunning(owner) { unlinkat(blobs.fd, blob, 0) }
                            } else {
                                var info = stat()
                                if fstatat(blobs.fd, blob, &info, AT_SYMLINK_NOFOLLOW) == 0, Double(info.st_mtim.tv_sec) < stale {
                                    unlinkat(blobs.fd, blob, 0)
                                }
                            }
                            continue
                        }
                        let digestText = blob.hasSuffix(".gz") ? String(blob.dropLast(3)) : blob
                        if let digest = try? Digest(digestText) { found[digest, default: []].insert(path) }
                    }
                } else if name != "manifests", name != "tags", ImageServeFiles.isDirectory(child) {
                    walk(child, path.isEmpty ? name : "\(path)/\(name)")
                }
            }
        }
        walk(v2, "")
        return found
    }
}
