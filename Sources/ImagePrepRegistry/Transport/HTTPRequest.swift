import Foundation
import ImagePrepOCI

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

/// Looks at a 2xx answer's status and headers before any of its body reaches the
/// ``BodyWriter``, on the transfer thread; throwing aborts the transfer.
typealias ResponseCheck = @Sendable (_ status: Int, _ headers: HTTPHeaders) throws -> Void

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
    /// Asked whether a 2xx answer's body may go to `bodyWriter` (a resumed blob's range).
    var responseCheck: ResponseCheck?
    var maxCollectedBody = 16 * 1024 * 1024
    /// The most bytes a 2xx body given to `bodyWriter` may have (a blob's size); nil: no
    /// bound, and no deadline for the request.
    var maxStreamedBody: Int64?

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
    /// The slowest average rate, in bytes per second, a whole request may have: with the
    /// stall and connect timeouts it makes each request's deadline (see ``deadline(bytes:)``),
    /// so a body trickled just fast enough never to stall still ends.
    public var minimumRate: Int64

    /// Bytes of headers and other overhead allowed for on top of a request's bodies (8 s at
    /// the default rate: more than libcurl's stall check takes to notice a body that stops
    /// after a first burst, so a stall is reported as one).
    static let overheadBytes: Int64 = 256 * 1024

    public init(stall: Duration = .seconds(30), connect: Duration = .seconds(30), minimumRate: Int64 = 32 * 1024) {
        self.stall = stall
        self.connect = connect
        self.minimumRate = max(1, minimumRate)
    }

    /// The longest a request moving `bytes` (its bodies both ways, at most) may take: the
    /// connect and stall timeouts, plus those bytes and the overhead at the minimum rate.
    func deadline(bytes: Int64) -> Duration {
        let total = bytes.addingSaturated(Self.overheadBytes)
        return connect + stall + .seconds(total / minimumRate) + .milliseconds(total % minimumRate * 1000 / minimumRate)
    }
}
