#if canImport(Glibc)
import Glibc
#endif

/// A file operation that failed: what was being done, to which path, and the system's
/// error number. Callers word it for their own context (an output file, image-serve, a
/// cache); ``reason`` is the system's wording of the error number.
public struct FileError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// A symbolic link where a file was to be opened or created (`O_NOFOLLOW`).
        case link
        /// Something other than a regular file where one is kept.
        case notRegularFile
        case cannotOpen
        case cannotCreate
        case cannotWrite
        case cannotFlush
        case cannotRename
        /// Another process holds the lock and the caller asked not to wait.
        case lockHeld
        case cannotLock
    }

    public let code: Code
    public let path: String
    /// The system error number (0 when the failure has none).
    public let number: Int32

    public init(_ code: Code, path: String, number: Int32) {
        self.code = code
        self.path = path
        self.number = number
    }

    /// The system's wording of ``number``.
    public var reason: String { number == 0 ? "failed" : String(cString: strerror(number)) }

    /// The file system is full (ENOSPC, EDQUOT).
    public var isOutOfSpace: Bool { number == ENOSPC || number == EDQUOT }

    public var description: String { "\(path): \(reason)" }
}
