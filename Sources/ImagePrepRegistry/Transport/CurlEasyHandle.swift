import CCurl
import Foundation

/// One libcurl easy handle. It keeps its connections open between requests, so reusing the
/// handle reuses the connection (HTTP/1.1 keep-alive).
///
/// A handle is used by one thread at a time: it is either idle in the transport's pool or
/// owned by exactly one in-flight request.
final class CurlEasyHandle: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init() throws {
        CurlTransport.initializeGlobalState()
        guard let handle = curl_easy_init() else {
            throw TransportError(kind: .other, code: -1, message: "curl_easy_init failed", host: "")
        }
        self.handle = handle
        let size = imageprep_curl_error_size()
        errorBuffer = .allocate(capacity: size)
        errorBuffer.initialize(repeating: 0, count: size)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Performs `request` on the calling thread, which blocks until the response is complete.
    func perform(_ request: HTTPRequest, timeouts: TransferTimeouts, cancellation: CancellationFlag) throws -> HTTPResponse {
        let host = request.url.host ?? request.url.absoluteString
        curl_easy_reset(handle)
        errorBuffer[0] = 0
        let context = CurlTransferContext(request: request, timeouts: timeouts, cancellation: cancellation)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }

        try configure(request, timeouts: timeouts, context: context, headerList: &headerList, host: host)
        let code = withExtendedLifetime(context) { curl_easy_perform(handle) }

        if code == CURLE_OPERATION_TIMEDOUT, String(cString: errorBuffer).contains("too slow") {
            // libcurl's low-speed check: say what happened in the operator's terms.
            let seconds = timeouts.stall.components.seconds
            throw TransportError(
                kind: .timeout, code: Int(code.rawValue),
                message: context.headersComplete
                    ? "the transfer stalled: no data for \(seconds) s (--stall-timeout)"
                    : "no answer within \(seconds) s (--stall-timeout)", host: host)
        }
        if let (deadline, bytes) = context.passedDeadline {
            throw TransportError(
                kind: .timeout, code: Int(code.rawValue),
                message: "not done within the request's deadline of \(deadline.components.seconds) s (the connect and "
                    + "--stall-timeout times, plus \(bytes) bytes and \(TransferTimeouts.overheadBytes) of overhead at \(timeouts.minimumRate) bytes/s, "
                    + "the slowest average allowed)",
                host: host)
        }
        if let failure = context.bodyFailure {
            throw TransportError(kind: .body(failure), code: Int(code.rawValue),
                                 message: "transfer aborted: \(failure)", host: host)
        }
        try check(code, host: host)

        var status = 0
        try check(imageprep_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status), host: host)
        var effective: UnsafeMutablePointer<CChar>?
        try check(imageprep_curl_getinfo_string(handle, CURLINFO_EFFECTIVE_URL, &effective), host: host)
        return HTTPResponse(
            status: status,
            headers: context.headers,
            body: context.collected,
            streamedBytes: context.streamedBytes,
            effectiveURL: effective.flatMap { URL(string: String(cString: $0)) }
        )
    }

    private func configure(
        _ request: HTTPRequest,
        timeouts: TransferTimeouts,
        context: CurlTransferContext,
        headerList: inout UnsafeMutablePointer<curl_slist>?,
        host: String
    ) throws {
        let userdata = Unmanaged.passUnretained(context).toOpaque()
        try set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer), host: host)
        try set(CURLOPT_NOSIGNAL, 1, host: host)
        try set(CURLOPT_URL, request.url.absoluteString, host: host)
        try set(CURLOPT_PROTOCOLS, imageprep_curl_proto_http_https(), host: host)
        try set(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1, host: host)
        try set(CURLOPT_TCP_KEEPALIVE, 1, host: host)
        try set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(timeouts.connect), host: host)
        // A transfer that moves less than 1 byte/s for the stall timeout is stalled: this
        // also bounds the wait for the response headers.
        try set(CURLOPT_LOW_SPEED_LIMIT, 1, host: host)
        try set(CURLOPT_LOW_SPEED_TIME, max(1, Int(timeouts.stall.components.seconds)), host: host)

        if request.followRedirects {
            try set(CURLOPT_FOLLOWLOCATION, 1, host: host)
            try set(CURLOPT_MAXREDIRS, 10, host: host)
            try set(CURLOPT_REDIR_PROTOCOLS, imageprep_curl_proto_http_https(), host: host)
            // Credentials (including a custom Authorization header) stay with the original host.
            try set(CURLOPT_UNRESTRICTED_AUTH, 0, host: host)
        }

        try configureTLS(request.tls, host: host)
        try configureMethod(request, userdata: userdata, host: host)
        try configureHeadersAndCallbacks(request.headers, userdata: userdata, headerList: &headerList, host: host)
    }

    /// Peer and host verification, with the run's CA file added to the system store.
    private func configureTLS(_ tls: TLSPolicy, host: String) throws {
        switch tls {
        case .skipVerification:
            try set(CURLOPT_SSL_VERIFYPEER, 0, host: host)
            try set(CURLOPT_SSL_VERIFYHOST, 0, host: host)
        case .verify(let caFile):
            try set(CURLOPT_SSL_VERIFYPEER, 1, host: host)
            try set(CURLOPT_SSL_VERIFYHOST, 2, host: host)
            if let caFile {
                // The file adds to the system store (kept through the CA directory).
                try set(CURLOPT_CAINFO, caFile, host: host)
                try set(CURLOPT_CAPATH, "/etc/ssl/certs", host: host)
            }
        }
    }

    /// The method, and for a request with a body its length and the read callback.
    private func configureMethod(_ request: HTTPRequest, userdata: UnsafeMutableRawPointer, host: String) throws {
        switch request.method {
        case .get:
            try set(CURLOPT_HTTPGET, 1, host: host)
        case .head:
            try set(CURLOPT_NOBODY, 1, host: host)
        case .delete:
            try set(CURLOPT_CUSTOMREQUEST, "DELETE", host: host)
        case .post, .put, .patch:
            try set(CURLOPT_UPLOAD, 1, host: host)
            try set(CURLOPT_CUSTOMREQUEST, request.method.rawValue, host: host)
            let length: Int64 = switch request.body {
            case .empty: 0
            case .data(let data): Int64(data.count)
            case .stream(let length, _): length ?? -1
            }
            try set(CURLOPT_INFILESIZE_LARGE, offset: length, host: host)
            try set(CURLOPT_READFUNCTION, callback: curlReadCallback, host: host)
            try set(CURLOPT_READDATA, pointer: userdata, host: host)
        }
    }

    /// The request's headers (no `Expect: 100-continue`) and the header, body and progress
    /// callbacks, which reach the transfer's context through `userdata`.
    private func configureHeadersAndCallbacks(
        _ requestHeaders: HTTPHeaders, userdata: UnsafeMutableRawPointer,
        headerList: inout UnsafeMutablePointer<curl_slist>?, host: String
    ) throws {
        var headers = requestHeaders
        // No "Expect: 100-continue" round trip before a body.
        headers.set("Expect", "")
        for (name, value) in headers {
            let line = value.isEmpty ? "\(name):" : "\(name): \(value)"
            guard let appended = curl_slist_append(headerList, line) else {
                throw TransportError(kind: .other, code: -1, message: "out of memory building headers", host: host)
            }
            headerList = appended
        }
        try check(imageprep_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList), host: host)

        try set(CURLOPT_HEADERFUNCTION, callback: curlHeaderCallback, host: host)
        try set(CURLOPT_HEADERDATA, pointer: userdata, host: host)
        try set(CURLOPT_WRITEFUNCTION, callback: curlWriteCallback, host: host)
        try set(CURLOPT_WRITEDATA, pointer: userdata, host: host)
        try set(CURLOPT_NOPROGRESS, 0, host: host)
        try check(imageprep_curl_setopt_xferinfo_callback(handle, curlProgressCallback), host: host)
        try set(CURLOPT_XFERINFODATA, pointer: userdata, host: host)
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    private func set(_ option: CURLoption, _ value: Int, host: String) throws {
        try check(imageprep_curl_setopt_long(handle, option, value), host: host)
    }

    private func set(_ option: CURLoption, offset value: Int64, host: String) throws {
        try check(imageprep_curl_setopt_offset(handle, option, curl_off_t(value)), host: host)
    }

    /// libcurl copies string options, so the temporary C string may go away afterwards.
    private func set(_ option: CURLoption, _ value: String, host: String) throws {
        try check(imageprep_curl_setopt_string(handle, option, value), host: host)
    }

    private func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer, host: String) throws {
        try check(imageprep_curl_setopt_pointer(handle, option, value), host: host)
    }

    private func set(_ option: CURLoption, callback: imageprep_curl_data_callback, host: String) throws {
        try check(imageprep_curl_setopt_data_callback(handle, option, callback), host: host)
    }

    /// The one place a CURLcode is turned into an error.
    private func check(_ code: CURLcode, host: String) throws {
        guard code != CURLE_OK else { return }
        let detail = String(cString: errorBuffer)
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        throw TransportError(kind: TransportError.kind(of: code), code: Int(code.rawValue),
                             message: message.trimmingCharacters(in: .whitespacesAndNewlines), host: host)
    }
}
