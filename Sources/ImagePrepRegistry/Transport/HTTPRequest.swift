import Foundation

enum HTTPMethod: String, Sendable {
    case get = "GET"
    case head = "HEAD"
    case post = "POST"
    case put = "PUT"
    case patch = "PATCH"
    case delete = "DELETE"
}

/// How the peer's TLS certificate is checked.
enum TLSPolicy: Sendable, Equatable {
    /// Verify against the system CA store plus, when given, the PEM bundle at `caFile`.
    case verify(caFile: String?)
    /// Accept any certificate: only for registries the operator marked insecure.
    case skipVerification
}

/// Reads the next part of a streamed request body into the buffer and returns the number
/// of bytes written, or 0 at the end. Called on the transfer thread; it may block.
typealias BodyReader = @Sendable (UnsafeMutableRawBufferPointer) throws -> Int

/// Receives the next chunk of a successful (2xx) response body, on the transfer thread.
typealias BodyWriter = @Sendable (UnsafeRawBufferPointer) throws -> Void

enum RequestBody: Sendable {
    case empty
    case data(Data)
    /// A body produced while it is sent; `length` nil means chunked transfer encoding.
    case stream(length: Int64?, reader: BodyReader)

    /// Whether the same body can be sent again by a retry.
    var isReplayable: Bool {
        if case .stream = self { return false }
        return true
    }
}

struct HTTPRequest: Sendable {
    var method: HTTPMethod
    var url: URL
    var headers: HTTPHeaders = HTTPHeaders()
    var body: RequestBody = .empty
    var tls: TLSPolicy = .verify(caFile: nil)
    /// Redirects are followed only where the API hands content out to blob storage.
    var followRedirects = false
    /// Where a 2xx body goes; nil collects it into `HTTPResponse.body` up to `maxCollectedBody`.
    var bodyWriter: BodyWriter?
    var maxCollectedBody = 16 * 1024 * 1024

    init(method: HTTPMethod, url: URL) {
        self.method = method
        self.url = url
    }
}

/// How long a transfer may wait before it is given up (and retried where it can be).
public struct TransferTimeouts: Sendable, Equatable {
    /// A transfer that moves no byte for this long, waiting for the answer included, is
    /// aborted as stalled.
    public var stall: Duration
    /// The longest wait for a TCP (and TLS) connection.
    public var connect: Duration

    public init(stall: Duration = .seconds(30), connect: Duration = .seconds(30)) {
        self.stall = stall
        self.connect = connect
    }
}
