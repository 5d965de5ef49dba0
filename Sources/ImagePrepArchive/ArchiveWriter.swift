import CArchive
import Foundation

/// Writes a tar archive (PAX where a name or size needs it, ustar otherwise), gzip-compressed
/// or not, with libarchive. The bytes go to a callback as libarchive produces them, so an
/// archive of any size is written through a small buffer.
public final class ArchiveWriter {
    public enum Compression: Sendable {
        case none
        /// gzip without a timestamp in its header, so the same entries give the same bytes.
        case gzip
    }

    /// One entry to write. Paths are relative (`etc/app.conf`), without a leading `/`.
    public struct Entry: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// A regular file; its bytes are read from `source` as they are written.
            case file(source: URL, size: Int64)
            case directory
            case symlink(target: String)
        }

        public var path: String
        public var kind: Kind
        /// Permission bits (and setuid/setgid/sticky).
        public var mode: UInt32
        public var uid: Int
        public var gid: Int
        /// Seconds since the epoch.
        public var mtime: Int

        public init(path: String, kind: Kind, mode: UInt32, uid: Int = 0, gid: Int = 0, mtime: Int = 0) {
            self.path = path
            self.kind = kind
            self.mode = mode
            self.uid = uid
            self.gid = gid
            self.mtime = mtime
        }
    }

    private let handle: OpaquePointer
    /// Names the archive in errors.
    public let destination: String
    private let sink: Sink
    private var currentPath: String?
    private var finished = false

    /// Opens an archive whose bytes go to `write`; a thrown error aborts the archive.
    public init(
        destination: String, compression: Compression, write: @escaping (UnsafeRawBufferPointer) throws -> Void
    ) throws(ArchiveError) {
        guard let handle = archive_write_new() else {
            throw ArchiveError(source: destination, message: "cannot allocate a libarchive writer")
        }
        self.handle = handle
        self.destination = destination
        sink = Sink(write: write)
        try check(archive_write_set_format_pax_restricted(handle))
        switch compression {
        case .none:
            try check(archive_write_add_filter_none(handle))
        case .gzip:
            try check(archive_write_add_filter_gzip(handle))
            // A NULL value turns the option off: no modification time in the gzip header.
            try check(archive_write_set_filter_option(handle, "gzip", "timestamp", nil))
        }
        // Whole 10 KiB blocks, as tar writes them; the last block is padded.
        try check(archive_write_set_bytes_in_last_block(handle, 1))
        try check(archive_write_open(
            handle, Unmanaged.passUnretained(sink).toOpaque(), nil,
            { archive, context, buffer, length in
                let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
                return sink.accept(archive, buffer, length)
            }, nil))
    }

    deinit {
        if !finished { archive_write_close(handle) }
        archive_write_free(handle)
    }

    /// Writes one entry (and a file's bytes, streamed from its source).
    public func add(_ entry: Entry) throws(ArchiveError) {
        currentPath = entry.path
        guard let item = archive_entry_new() else {
            throw ArchiveError(source: destination, entry: entry.path, message: "cannot allocate an archive entry")
        }
        defer { archive_entry_free(item) }
        archive_entry_set_pathname(item, entry.path)
        archive_entry_set_perm(item, entry.mode & 0o7777)
        archive_entry_set_uid(item, Int64(entry.uid))
        archive_entry_set_gid(item, Int64(entry.gid))
        archive_entry_set_mtime(item, entry.mtime, 0)
        // AE_IFREG, AE_IFDIR, AE_IFLNK (macros Swift does not import).
        switch entry.kind {
        case .file(_, let size):
            archive_entry_set_filetype(item, 0o100000)
            archive_entry_set_size(item, size)
        case .directory:
            archive_entry_set_filetype(item, 0o040000)
            archive_entry_set_size(item, 0)
        case .symlink(let target):
            archive_entry_set_filetype(item, 0o120000)
            archive_entry_set_symlink(item, target)
            archive_entry_set_size(item, 0)
        }
        try check(archive_write_header(handle, item))
        guard case .file(let source, let size) = entry.kind else { return }
        guard let file = FileHandle(forReadingAtPath: source.path) else {
            throw ArchiveError(source: destination, entry: entry.path, message: "cannot read \(source.path)")
        }
        defer { try? file.close() }
        var written: Int64 = 0
        while true {
            let chunk: Data
            do {
                chunk = try file.read(upToCount: 64 * 1024) ?? Data()
            } catch {
                throw ArchiveError(source: destination, entry: entry.path, message: "reading \(source.path): \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            guard written + Int64(chunk.count) <= size else {
                throw ArchiveError(source: destination, entry: entry.path, message: "\(source.path) grew while it was archived")
            }
            let count = chunk.withUnsafeBytes { archive_write_data(handle, $0.baseAddress, $0.count) }
            if count < 0 { try check(Int32(count)) }
            written += Int64(chunk.count)
        }
        guard written == size else {
            throw ArchiveError(source: destination, entry: entry.path, message: "\(source.path) shrank while it was archived")
        }
    }

    /// Writes the end of the archive and flushes the compressor.
    public func finish() throws(ArchiveError) {
        currentPath = nil
        finished = true
        try check(archive_write_close(handle))
    }

    private func check(_ status: Int32) throws(ArchiveError) {
        guard status < ARCHIVE_WARN else { return }
        if let failure = sink.failure {
            throw ArchiveError(source: destination, entry: currentPath, message: "\(failure)")
        }
        let message = archive_error_string(handle).map { String(cString: $0) } ?? "libarchive error \(status)"
        throw ArchiveError(source: destination, entry: currentPath, message: message)
    }
}

/// Where libarchive's write callback delivers the archive's bytes.
private final class Sink {
    let write: (UnsafeRawBufferPointer) throws -> Void
    var failure: (any Error)?

    init(write: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.write = write
    }

    func accept(_ archive: OpaquePointer?, _ buffer: UnsafeRawPointer?, _ length: Int) -> Int {
        do {
            try write(UnsafeRawBufferPointer(start: buffer, count: length))
            return length
        } catch {
            failure = error
            imageprep_archive_set_error(archive, EIO, "\(error)")
            return -1
        }
    }
}
