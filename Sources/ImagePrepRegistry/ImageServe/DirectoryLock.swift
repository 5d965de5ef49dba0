import Foundation
import ImagePrepFiles

/// The image-serve directory's advisory locks (``FileLock``), their failures worded for
/// image-serve.
enum DirectoryLock {
    /// Takes the lock on `url`, waiting for other holders.
    static func take(_ url: URL, exclusive: Bool) throws(ImageServeError) -> FileLock {
        do {
            return try FileLock(path: url.path, exclusive: exclusive, waits: true)
        } catch {
            switch error.code {
            case .link: throw .link(url.path)
            case .notRegularFile:
                throw ImageServeError(path: url.path, message: "is not a regular file, where imageprep keeps its lock: remove it")
            case .cannotOpen: throw ImageServeError(error, operation: "cannot open the lock file")
            default: throw ImageServeError(error, operation: "cannot lock")
            }
        }
    }
}
