import Foundation
import ImagePrepFiles
import ImagePrepOCI

/// Image config blobs kept on disk by digest, so a re-run reads an unchanged image's labels
/// without fetching its config again. Entries are content-addressed and checked against their
/// digest when read: a damaged entry is dropped and the blob fetched again.
public struct ConfigBlobCache: Sendable {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    /// `$XDG_CACHE_HOME/imageprep` or `~/.cache/imageprep`.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") {
            return URL(fileURLWithPath: cache).appendingPathComponent("imageprep")
        }
        let home = environment["HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".cache/imageprep")
    }

    func path(for digest: Digest) -> URL {
        directory.appendingPathComponent("configs/\(digest.algorithm)/\(digest.encoded)")
    }

    /// The cached blob, or nil when it is missing or does not match its digest.
    func data(for digest: Digest) -> Data? {
        let file = path(for: digest)
        guard let data = try? Data(contentsOf: file) else { return nil }
        guard Digest(of: data, algorithm: digest.algorithm) == digest else {
            try? FileManager.default.removeItem(at: file)
            return nil
        }
        return data
    }

    /// Stores a blob already verified against `digest`; a cache that cannot be written only
    /// costs a fetch next time, so failures are returned for logging, not thrown.
    func store(_ data: Data, for digest: Digest) -> (any Error)? {
        let file = path(for: digest)
        do {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            // Entries are checked against their digest when read: no flush needed.
            try DurableFile.replace(atPath: file.path, with: data, temporaryPrefix: ".imageprep-", durability: .unflushed)
            return nil
        } catch {
            return error
        }
    }
}
