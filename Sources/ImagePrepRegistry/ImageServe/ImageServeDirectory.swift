import Foundation
import ImagePrepConcurrency
import ImagePrepFiles

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
///
/// By resource: blobs (checking, linking, writing, which repositories hold them) in
/// `+Blobs`, manifests and the tag listings written in `+Manifests`, read in `+Reading`;
/// deleting and pruning in `+Delete` and `+Prune`.
public final class ImageServeDirectory: Sendable {
    public let root: URL
    /// digest → repositories known to hold the blob, read once from disk.
    let holders = Locked<[Digest: Set<String>]?>(nil)
    private let writeLock = Locked<FileLock?>(nil)
    /// The repositories whose listings this run has reconciled.
    let reconciled = Locked<Set<String>>([])
    /// The catalog's repositories as this run knows them: from one walk of the directory the
    /// first time the catalog is written in a run, then kept as repositories are added.
    let catalog = Locked<Set<String>?>(nil)
    /// With `catalogAtEnd`: repositories given their first tag this run that the catalog
    /// does not list yet, written together by ``writeCatalog()`` after the run's last image
    /// instead of one catalog rewrite (and two fsyncs) per repository.
    let unlistedRepositories = Locked<Set<String>>([])
    /// Whether new repositories wait for ``writeCatalog()`` (a prepare's many images) or
    /// are listed as their tag is written (single-image commands). A run killed in between
    /// leaves them to the next run's reconciliation, as a kill between a tag's type map and
    /// its listings always has.
    let catalogAtEnd: Bool
    /// The repositories' `blobs` directories opened this run (each walked down to once, see
    /// ``DirectoryHandle``): the run's shared lock keeps deletes out meanwhile, and a delete
    /// in this process forgets them. At most `openedLimit` descriptors are kept.
    let openedBlobDirectories = Locked<[String: DirectoryHandle]>([:])
    static let openedLimit = 256
    /// The files checked this run, and whether each was whole.
    let checked = Locked<[CheckedFile: Bool]>([:])
    /// `blobs` directories with links not yet flushed, by path: flushed once before the next
    /// manifest of their repository is written (``syncBlobs(of:)``), not once per blob.
    let unsyncedBlobDirectories = Locked<[String: DirectoryHandle]>([:])

    struct CheckedFile: Hashable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: Int
        var digest: Digest
    }

    /// Opens an existing directory; `v2/` and its `index.json` are created at the first write.
    public init(root: URL, catalogAtEnd: Bool = false) throws(ImageServeError) {
        self.root = root.standardizedFileURL
        self.catalogAtEnd = catalogAtEnd
        // The root itself may be a link (to a larger disk, say); nothing below it may.
        var info = stat()
        guard stat(self.root.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw ImageServeError(path: root.path, message: "no such directory")
        }
    }

    var v2: URL { root.appendingPathComponent("v2", isDirectory: false) }

    func repositoryDirectory(_ repository: String) -> URL { v2.appendingPathComponent(repository, isDirectory: false) }
    func blobsDirectory(_ repository: String) -> URL { repositoryDirectory(repository).appendingPathComponent("blobs", isDirectory: false) }
    func manifestsDirectory(_ repository: String) -> URL { repositoryDirectory(repository).appendingPathComponent("manifests", isDirectory: false) }

    /// `<digest>` for an image config, `<digest>.gz` for anything else (the name keeps `.gz`
    /// whatever the compression, as upstream's does; httpd's MultiViews serves both as
    /// `blobs/<digest>`).
    static func blobName(_ digest: Digest, mediaType: MediaType) -> String {
        isConfig(mediaType) ? digest.description : "\(digest).gz"
    }

    static func isConfig(_ mediaType: MediaType) -> Bool {
        mediaType == .dockerConfig || mediaType == .ociConfig || mediaType.rawValue.hasSuffix(".config.v1+json")
    }

    // MARK: Writing

    /// Takes the run's shared lock (once) and makes sure `v2/index.json` exists.
    func beginWriting() throws(ImageServeError) {
        try writeLock.withLock { (lock: inout FileLock?) throws(ImageServeError) in
            guard lock == nil else { return }
            lock = try DirectoryLock.take(root.appendingPathComponent(".imageprep.lock", isDirectory: false), exclusive: false)
        }
        let index = v2.appendingPathComponent("index.json", isDirectory: false)
        if !ImageServeFiles.exists(index.path) {
            try ImageServeFiles.makeDirectory(v2, under: root)
            try ImageServeFiles.writeIfChanged(Data("{}".utf8), to: index, under: root)
        }
    }

    /// Releases the run's shared lock.
    func endWriting() {
        writeLock.withLock { $0 = nil }
    }
}
