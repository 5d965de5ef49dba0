import CArchive
import Foundation

/// One entry of an archive as the reader meets it.
public struct ArchiveEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case file, directory, symlink, hardlink, other
    }

    public var path: String
    public var kind: Kind
    public var size: Int64
    public var mode: UInt32
    /// The target of a symlink or hard link.
    public var linkTarget: String?
}

/// Reads an archive (tar, cpio, an RPM's payload; gzip, xz, zstd, bzip2 or
/// uncompressed) entry by entry with libarchive, streaming: only a small
/// buffer is held whatever the archive's size.
public final class ArchiveReader {
    public enum Format: Sendable {
        /// An image layer: tar, compressed or not. Not cpio, whose 4 GiB
        /// name-size field makes libarchive allocate that much up front.
        case tar
        /// tar or cpio, compressed or not.
        case any
        /// An RPM file: its payload (cpio) after the lead and headers.
        case rpmPayload
    }

    private let handle: OpaquePointer
    public let source: String
    private var currentPath: String?
    /// Keeps a streamed source alive while libarchive reads it.
    private var streamSource: StreamSource?

    /// Opens a file on disk.
    public init(path: String, format: Format = .tar) throws(ArchiveError) {
        guard let handle = archive_read_new() else {
            throw ArchiveError(source: path, message: "cannot allocate a libarchive reader")
        }
        self.handle = handle
        self.source = path
        try configure(format)
        try check(archive_read_open_filename(handle, path, 64 * 1024))
    }

    /// Reads from a byte stream (a layer as the registry client downloads
    /// it): `read` fills the buffer it is given and returns the count, 0 at
    /// the end. Only one 64 KiB buffer is held.
    public init(
        source: String, format: Format = .tar, read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int
    ) throws(ArchiveError) {
        guard let handle = archive_read_new() else {
            throw ArchiveError(source: source, message: "cannot allocate a libarchive reader")
        }
        self.handle = handle
        self.source = source
        try configure(format)
        let stream = StreamSource(read: read)
        streamSource = stream
        let status = archive_read_open(
            handle, Unmanaged.passUnretained(stream).toOpaque(), nil,
            { archive, context, buffer in
                let stream = Unmanaged<StreamSource>.fromOpaque(context!).takeUnretainedValue()
                return stream.next(archive, buffer)
            }, nil)
        if let failure = stream.failure {
            throw ArchiveError(source: source, message: "\(failure)")
        }
        try check(status)
    }

    deinit {
        archive_read_free(handle)
    }

    private func configure(_ format: Format) throws(ArchiveError) {
        try check(archive_read_support_filter_all(handle))
        switch format {
        case .tar:
            try check(archive_read_support_format_tar(handle))
        case .any:
            try check(archive_read_support_format_tar(handle))
            try check(archive_read_support_format_cpio(handle))
        case .rpmPayload:
            try check(archive_read_support_filter_rpm(handle))
            try check(archive_read_support_format_cpio(handle))
        }
    }

    /// The next entry, or nil at the end of the archive.
    public func next() throws(ArchiveError) -> ArchiveEntry? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF { return nil }
        try check(status)
        guard let entry else { throw ArchiveError(source: source, message: "libarchive returned no entry") }
        let path = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
        currentPath = path
        let kind: ArchiveEntry.Kind
        if let hardlink = archive_entry_hardlink(entry) {
            return ArchiveEntry(
                path: path, kind: .hardlink, size: archive_entry_size(entry), mode: UInt32(archive_entry_perm(entry)),
                linkTarget: String(cString: hardlink))
        }
        // AE_IFREG, AE_IFDIR, AE_IFLNK (macros Swift does not import).
        switch archive_entry_filetype(entry) {
        case 0o100000: kind = .file
        case 0o040000: kind = .directory
        case 0o120000: kind = .symlink
        default: kind = .other
        }
        return ArchiveEntry(
            path: path, kind: kind, size: archive_entry_size(entry), mode: UInt32(archive_entry_perm(entry)),
            linkTarget: archive_entry_symlink(entry).map { String(cString: $0) })
    }

    /// Streams the current entry's data to `body` in chunks.
    public func readData(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { archive_read_data(handle, $0.baseAddress, $0.count) }
            if count == 0 { return }
            // A negative count is a status, never a length: ARCHIVE_WARN and
            // ARCHIVE_RETRY (a damaged sparse map, say) returned no data.
            if count < 0 { throw failure(Int32(count)) }
            try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }

    /// Reads the current entry whole; for small files only.
    public func readAll(limit: Int = 16 * 1024 * 1024) throws -> [UInt8] {
        var data: [UInt8] = []
        try readData { chunk in
            guard data.count + chunk.count <= limit else {
                throw ArchiveError(source: source, entry: currentPath, message: "entry is larger than \(limit) bytes")
            }
            data.append(contentsOf: chunk)
        }
        return data
    }

    /// Checks a libarchive status, throwing libarchive's message (or the
    /// stream's own error) on failure.
    private func check(_ status: Int32) throws(ArchiveError) {
        guard status < ARCHIVE_WARN else { return }
        throw failure(status)
    }

    private func failure(_ status: Int32) -> ArchiveError {
        if let failure = streamSource?.failure {
            return ArchiveError(source: source, entry: currentPath, message: "\(failure)")
        }
        let message = archive_error_string(handle).map { String(cString: $0) }
            ?? "damaged or truncated data (libarchive status \(status))"
        return ArchiveError(source: source, entry: currentPath, message: message)
    }
}

/// The buffer libarchive's read callback hands out, filled from a stream.
private final class StreamSource {
    let read: (UnsafeMutableRawBufferPointer) throws -> Int
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    var failure: (any Error)?

    init(read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) {
        self.read = read
    }

    deinit {
        buffer.deallocate()
    }

    func next(_ archive: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeRawPointer?>?) -> Int {
        do {
            let count = try read(buffer)
            out?.pointee = UnsafeRawPointer(buffer.baseAddress)
            return count
        } catch {
            failure = error
            imageprep_archive_set_error(archive, EIO, "\(error)")
            return -1
        }
    }
}
