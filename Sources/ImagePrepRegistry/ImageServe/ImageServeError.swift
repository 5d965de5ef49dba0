import Foundation
import ImagePrepConcurrency
import ImagePrepFiles

#if canImport(Glibc)
import Glibc
import ImagePrepOCI
#endif


/// Something went wrong reading or writing an image-serve directory.
public struct ImageServeError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    /// The file system is full (ENOSPC, EDQUOT).
    public var isOutOfSpace = false

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "image-serve directory: \(path): \(message)" }

    static func errno(_ path: String, _ operation: String) -> ImageServeError {
        withNumber(Glibc.errno, path: path, operation)
    }

    /// A failure of the shared file mechanisms, worded as `operation` on its path.
    init(_ failure: FileError, operation: String) {
        self = Self.withNumber(failure.number, path: failure.path, operation)
    }

    private static func withNumber(_ code: Int32, path: String, _ operation: String) -> ImageServeError {
        var error = ImageServeError(path: path, message: "\(operation): \(String(cString: strerror(code)))")
        error.isOutOfSpace = code == ENOSPC || code == EDQUOT
        if error.isOutOfSpace, let free = ImageServeFiles.freeSpace(path) {
            error.message += " (\(free) bytes free)"
        }
        return error
    }

    /// A symbolic link where a directory or file of imageprep's should be.
    static func link(_ path: String) -> ImageServeError {
        ImageServeError(
            path: path,
            message: "is a symbolic link where imageprep keeps a directory or file of its own; "
                + "nothing under the image-serve directory is reached through a link: remove it")
    }

    /// `directory` has no room for `what`, `size` bytes: names the space to free.
    static func outOfSpace(_ directory: URL, writing what: String, size: Int64, plural: Bool = false) -> ImageServeError {
        let free = ImageServeFiles.freeSpace(directory.path) ?? 0
        let missing = max(1, size.subtractingReportingOverflow(free).partialValue)
        var error = ImageServeError(
            path: directory.path,
            message: "no space left on the device: \(what) \(plural ? "need" : "needs") \(size) bytes, \(free) bytes are free; "
                + "free at least \(missing) bytes there and run again")
        error.isOutOfSpace = true
        return error
    }
}
