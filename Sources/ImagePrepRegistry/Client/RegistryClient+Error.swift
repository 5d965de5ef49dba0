import Foundation
import ImagePrepOCI

/// Where an error happened: enough for a person to find the image and the operation.
public struct RegistryErrorContext: Hashable, Sendable, CustomStringConvertible {
    public var registry: String
    public var repository: String?
    /// The tag or digest involved, if any.
    public var reference: String?
    /// What was being done, e.g. "fetching manifest".
    public var operation: String

    public init(registry: String, repository: String? = nil, reference: String? = nil, operation: String) {
        self.registry = registry
        self.repository = repository
        self.reference = reference
        self.operation = operation
    }

    public var description: String {
        var target = registry
        if let repository {
            target += "/\(repository)"
            if let reference {
                target += reference.contains(":") && reference.hasPrefix("sha") ? "@\(reference)" : ":\(reference)"
            }
        } else if let reference {
            target += " (\(reference))"
        }
        return "\(operation) \(target)"
    }
}

/// Every error the registry library throws. Descriptions never contain secrets, and are one
/// line: what a registry sent (server messages, media types, names) is printed with its
/// control characters escaped.
public enum RegistryError: Error, Sendable, CustomStringConvertible {
    /// The registry could not be reached (after retries).
    case connection(RegistryErrorContext, message: String)
    /// An earlier request of this run could not reach the registry after all its attempts,
    /// so this one was not tried.
    case givenUp(RegistryErrorContext, reason: String)
    /// TLS failed: an unknown CA, a wrong host name, or a registry that does not speak TLS.
    case tls(RegistryErrorContext, message: String)
    /// The registry refused the credentials (or asked for some and none were configured).
    case unauthorized(RegistryErrorContext, status: Int, user: String?, serverMessage: String?)
    case notFound(RegistryErrorContext, serverMessage: String?)
    /// Any other unexpected HTTP status (after retries, for the retryable ones).
    case http(RegistryErrorContext, status: Int, serverMessage: String?)
    case schema1Manifest(RegistryErrorContext)
    case unsupportedMediaType(RegistryErrorContext, mediaType: MediaType)
    case platformNotFound(RegistryErrorContext, wanted: Platform, available: [Platform])
    case digestMismatch(RegistryErrorContext, expected: Digest, actual: Digest)
    case sizeMismatch(RegistryErrorContext, expected: Int64, actual: Int64)
    /// A cut blob download's next attempt was not answered with the rest of the same blob
    /// (see ``BlobResume``): the blob is fetched again from its first byte.
    case rangeRefused(RegistryErrorContext, reason: String)
    case invalidResponse(RegistryErrorContext, reason: String)
    case tokenRequestFailed(RegistryErrorContext, realm: String, status: Int?, message: String)
    case invalidAuthFile(path: String, reason: String)
    case cancelled

    public var description: String { text.escapingControlCharacters() }

    private var text: String {
        switch self {
        case .connection(let context, let message):
            return "\(context): cannot reach registry \(context.registry): \(message); check the address, "
                + "the network and any proxy settings (http_proxy, https_proxy, no_proxy)"
        case .givenUp(let context, let reason):
            return "\(context): registry \(context.registry) is unreachable (given up for this run after an "
                + "earlier request failed all its attempts: \(reason))"
        case .tls(let context, let message):
            return "\(context): TLS connection to registry \(context.registry) failed: \(message); if the "
                + "registry uses a private CA pass its certificate with --ca-cert FILE, or mark the registry "
                + "insecure with --insecure-registry \(context.registry)"
        case .unauthorized(let context, let status, let user, let serverMessage):
            let who = user.map { "the credentials for user '\($0)' were rejected" }
                ?? "no credentials are configured for it"
            return "\(context): registry \(context.registry) answered HTTP \(status) (\(who))"
                + Self.suffix(serverMessage)
                + "; check ContainerImageRegistryCredentials or the auth file for \(context.registry)"
        case .notFound(let context, let serverMessage):
            return "\(context): not found (HTTP 404)" + Self.suffix(serverMessage)
        case .http(let context, let status, let serverMessage):
            return "\(context): registry \(context.registry) answered HTTP \(status)" + Self.suffix(serverMessage)
        case .schema1Manifest(let context):
            return "\(context): the image uses the deprecated Docker schema 1 manifest format, which is not "
                + "supported; rebuild or re-push it with a current tool to get a schema 2 or OCI manifest"
        case .unsupportedMediaType(let context, let mediaType):
            return "\(context): unsupported manifest media type '\(mediaType)'"
        case .platformNotFound(let context, let wanted, let available):
            let list = available.isEmpty ? "none" : available.map(\.description).joined(separator: ", ")
            return "\(context): the manifest list has no image for \(wanted) (available: \(list))"
        case .digestMismatch(let context, let expected, let actual):
            return "\(context): content does not match its digest: expected \(expected), got \(actual); "
                + "the source registry holds corrupted data"
        case .sizeMismatch(let context, let expected, let actual):
            return "\(context): expected \(expected) bytes, got \(actual)"
        case .rangeRefused(let context, let reason):
            return "\(context): registry \(context.registry) did not resume the download: \(reason)"
        case .invalidResponse(let context, let reason):
            return "\(context): unexpected response from registry \(context.registry): \(reason)"
        case .tokenRequestFailed(let context, let realm, let status, let message):
            let statusText = status.map { " (HTTP \($0))" } ?? ""
            return "\(context): could not get a token from \(realm)\(statusText): \(message)"
        case .invalidAuthFile(let path, let reason):
            return "cannot read auth file \(path): \(reason)"
        case .cancelled:
            return "cancelled"
        }
    }

    private static func suffix(_ serverMessage: String?) -> String {
        guard let serverMessage, !serverMessage.isEmpty else { return "" }
        return ": \(serverMessage)"
    }

    /// The registry's own explanation from its JSON `errors` body, as `CODE: message`.
    static func serverMessage(from body: Data) -> String? {
        struct Body: Decodable {
            struct Entry: Decodable {
                var code: String?
                var message: String?
            }
            var errors: [Entry]?
        }
        guard !body.isEmpty else { return nil }
        if let decoded = try? JSONDecoder().decode(Body.self, from: body), let errors = decoded.errors,
           !errors.isEmpty
        {
            return errors.map { entry in
                [entry.code, entry.message].compactMap { $0 }.joined(separator: ": ")
            }.joined(separator: "; ")
        }
        let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}

extension RegistryError {
    /// The same failure told for `context`'s request: for a failure several requests share
    /// (one `/v2/` probe per registry), so each names its own image.
    func retold(for context: RegistryErrorContext) -> RegistryError {
        switch self {
        case .connection(_, let message): .connection(context, message: message)
        case .givenUp(_, let reason): .givenUp(context, reason: reason)
        case .tls(_, let message): .tls(context, message: message)
        case .unauthorized(_, let status, let user, let serverMessage):
            .unauthorized(context, status: status, user: user, serverMessage: serverMessage)
        case .notFound(_, let serverMessage): .notFound(context, serverMessage: serverMessage)
        case .http(_, let status, let serverMessage): .http(context, status: status, serverMessage: serverMessage)
        case .schema1Manifest: .schema1Manifest(context)
        case .unsupportedMediaType(_, let mediaType): .unsupportedMediaType(context, mediaType: mediaType)
        case .platformNotFound(_, let wanted, let available):
            .platformNotFound(context, wanted: wanted, available: available)
        case .digestMismatch(_, let expected, let actual): .digestMismatch(context, expected: expected, actual: actual)
        case .sizeMismatch(_, let expected, let actual): .sizeMismatch(context, expected: expected, actual: actual)
        case .rangeRefused(_, let reason): .rangeRefused(context, reason: reason)
        case .invalidResponse(_, let reason): .invalidResponse(context, reason: reason)
        case .tokenRequestFailed(_, let realm, let status, let message):
            .tokenRequestFailed(context, realm: realm, status: status, message: message)
        case .invalidAuthFile, .cancelled: self
        }
    }
}
