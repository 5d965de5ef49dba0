import Foundation
import ImagePrepArchive
import ImagePrepConcurrency
import ImagePrepFiles
import ImagePrepOCI
import ImagePrepRegistry

/// A bundle as one uncompressed tar file (`bundle create --output FILE.tar`): the layout's
/// `oci-layout`, `index.json` and `blobs/sha256/…`, as `skopeo copy oci-archive:FILE.tar:REF`
/// reads it. Written to a temporary name and renamed; read back with every entry checked:
/// only the layout's own names (nothing can land outside the directory it is extracted to),
/// regular files and directories only, sizes bounded, each blob's bytes hashed as they are
/// extracted and compared with its name.
enum BundleArchive {
    /// Whether `path` names a tar bundle rather than a layout directory.
    static func isArchive(_ path: String) -> Bool {
        var info = stat()
        if lstat(path, &info) == 0 { return (info.st_mode & S_IFMT) == S_IFREG }
        return path.hasSuffix(".tar")
    }

    /// Writes the layout directory `layout` into `archive` (replaced whole).
    static func write(_ layout: URL, to archive: URL) throws(BundleError) {
        let directory = archive.deletingLastPathComponent().path
        let temporary = RunTemporaries.newPath(in: directory, prefix: ".imageprep-bundle-", suffix: ".tar")
        defer { RunTemporaries.release(temporary) }
        guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o644]),
              let handle = FileHandle(forWritingAtPath: temporary)
        else { throw .io(archive.path, "cannot create \(temporary)") }
        do {
            defer { try? handle.close() }
            let writer = try ArchiveWriter(destination: archive.path, compression: .none) { try handle.write(contentsOf: Data($0)) }
            func file(_ path: String) throws -> ArchiveWriter.Entry {
                let url = layout.appendingPathComponent(path)
                guard let size = ImageBundle.fileSize(url) else { throw BundleError.io(url.path, "not a regular file") }
                return ArchiveWriter.Entry(path: path, kind: .file(source: url, size: size), mode: 0o644)
            }
            try writer.add(file("oci-layout"))
            try writer.add(file("index.json"))
            try writer.add(ArchiveWriter.Entry(path: "blobs/", kind: .directory, mode: 0o755))
            try writer.add(ArchiveWriter.Entry(path: "blobs/sha256/", kind: .directory, mode: 0o755))
            let names = try FileManager.default.contentsOfDirectory(atPath: layout.appendingPathComponent("blobs/sha256").path)
            for name in names.sorted() where (try? Digest("sha256:" + name)) != nil {
                try writer.add(file("blobs/sha256/" + name))
            }
            try writer.finish()
            try handle.synchronize()
        } catch let error as BundleError {
            throw error
        } catch {
            throw .io(archive.path, "\(error)")
        }
        guard rename(temporary, archive.path) == 0 else { throw .io(archive.path, String(cString: strerror(errno))) }
    }

    /// What extracting a tar bundle gave: the blobs whose digests were checked on the way.
    struct Extracted {
        var verified: Set<Digest>
    }

    /// Extracts the tar bundle `archive` into the empty directory `layout`, refusing any entry
    /// a layout does not have and any blob whose bytes do not hash to its name.
    static func extract(_ archive: URL, into layout: URL) throws(BundleError) -> Extracted {
        let bundle = archive.path
        guard let archiveSize = ImageBundle.fileSize(archive) else { throw .invalid(bundle, "not a regular file") }
        do {
            try FileManager.default.createDirectory(at: layout.appendingPathComponent("blobs/sha256"), withIntermediateDirectories: true)
        } catch {
            throw .io(layout.path, error.localizedDescription)
        }
        var verified = Set<Digest>()
        var seen = Set<String>()
        // An uncompressed tar holds no more bytes than its file: a compressed one claiming
        // more is refused before it fills the disk.
        var total: Int64 = 0
        do {
            let reader = try ArchiveReader(path: bundle, format: .tar)
            while let entry = try reader.next() {
                let path = normalized(entry.path)
                let shown = path.escapingControlCharacters()
                if ["", "blobs", "blobs/sha256"].contains(path) && entry.kind == .directory { continue }
                let digest = try layoutDigest(of: path, size: entry.size, shown: shown, bundle: bundle)
                guard entry.kind == .file else { throw BundleError.invalid(bundle, "entry \(shown) is not a regular file") }
                guard seen.insert(path).inserted else { throw BundleError.invalid(bundle, "entry \(shown) appears twice") }
                total = total.addingSaturated(max(0, entry.size))
                guard total <= archiveSize else {
                    throw BundleError.invalid(bundle, "its entries hold more bytes than the file: not an uncompressed tar bundle")
                }
                let url = layout.appendingPathComponent(path)
                if let digest = try write(reader, entry: entry, path: path, to: url, checking: digest, shown: shown, bundle: bundle) {
                    verified.insert(digest)
                }
            }
        } catch let error as BundleError {
            throw error
        } catch {
            throw .invalid(bundle, "\(error)")
        }
        return Extracted(verified: verified)
    }

    /// The blob digest an entry at `path` is named by, nil for `oci-layout` and `index.json`
    /// (within a document's size); any other path is not part of a layout.
    private static func layoutDigest(of path: String, size: Int64, shown: String, bundle: String) throws -> Digest? {
        if path == "oci-layout" || path == "index.json" {
            guard size <= ImageBundle.maxDocumentSize else {
                throw BundleError.invalid(bundle, "\(shown) is \(size) bytes, more than a bundle's \(shown) may be")
            }
            return nil
        }
        if path.hasPrefix("blobs/sha256/"), let parsed = try? Digest("sha256:" + path.dropFirst("blobs/sha256/".count)) {
            return parsed
        }
        throw BundleError.invalid(bundle, "entry \(shown) is not part of an OCI image layout")
    }

    /// Writes the current entry of `reader` (at `path` in the layout) to `url`, no more bytes
    /// than its header says, and checks them against `digest`; returns the digest verified.
    private static func write(
        _ reader: ArchiveReader, entry: ArchiveEntry, path: String, to url: URL, checking digest: Digest?, shown: String,
        bundle: String
    ) throws -> Digest? {
        guard FileManager.default.createFile(atPath: url.path, contents: nil), let handle = FileHandle(forWritingAtPath: url.path) else {
            throw BundleError.io(url.path, "cannot create")
        }
        defer { try? handle.close() }
        var hasher = DigestHasher(algorithm: "sha256")
        var written: Int64 = 0
        try reader.readData { chunk in
            written = written.addingSaturated(Int64(chunk.count))
            guard written <= entry.size else { throw BundleError.invalid(bundle, "entry \(shown) holds more bytes than its header says") }
            hasher.update(chunk)
            try handle.write(contentsOf: Data(chunk))
        }
        guard let digest else { return nil }
        let actual = hasher.finalize()
        guard actual == digest else {
            throw BundleError.damagedBlob(bundle: bundle, file: path, image: nil, reason: "its bytes have digest \(actual)")
        }
        return digest
    }

    /// An entry's path without a leading `./` or a trailing `/`.
    static func normalized(_ path: String) -> String {
        var path = Substring(path)
        while path.hasPrefix("./") { path = path.dropFirst(2) }
        while path.hasSuffix("/") { path = path.dropLast() }
        return path == "." ? "" : String(path)
    }
}
