import CCurl

/// A request that did not produce an HTTP response.
struct TransportError: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable {
        /// Name resolution, connect, send or receive failed, or the peer went away.
        case connection
        /// The TLS handshake or certificate verification failed.
        case tls
        case timeout
        /// A body reader or writer supplied by the caller threw.
        case body(any Error)
        case cancelled
        case other
    }

    var kind: Kind
    var code: Int
    var message: String
    var host: String

    var isRetryable: Bool {
        switch kind {
        case .connection, .timeout: true
        case .tls, .body, .cancelled, .other: false
        }
    }

    var description: String {
        "\(message) (curl error \(code) talking to \(host))"
    }

    static func kind(of code: CURLcode) -> Kind {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT,
             CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE,
             CURLE_HTTP2, CURLE_HTTP2_STREAM:
            .connection
        case CURLE_OPERATION_TIMEDOUT:
            .timeout
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
             CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE:
            .tls
        case CURLE_ABORTED_BY_CALLBACK:
            .cancelled
        default:
            .other
        }
    }
}
