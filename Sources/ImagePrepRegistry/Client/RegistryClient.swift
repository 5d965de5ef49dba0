import Foundation
import ImagePrepConcurrency
import ImagePrepOCI
import Logging

/// A client for the OCI distribution API (Docker Registry HTTP API v2) over libcurl.
///
/// One client shares connections, the registries' endpoints and bearer tokens between all the
/// requests made through it, so a run should use one client.
public final class RegistryClient: Sendable {
    public struct Configuration: Sendable {
        public var credentials: CredentialStore
        /// `host[:port]` of registries reached over plain HTTP or unverified TLS.
        public var insecureRegistries: Set<String>
        /// A PEM file of extra CA certificates, trusted besides the system store.
        public var caFile: String?
        public var maxConcurrentRequests: Int
        public var retry: RetryPolicy
        public var userAgent: String
        /// The platform picked from a manifest list when the caller names none.
        public var defaultPlatform: Platform
        /// Where image config blobs are kept between runs; nil fetches every time.
        public var configCache: ConfigBlobCache?
        /// When a stalled or unanswered transfer is given up.
        public var timeouts: TransferTimeouts
        /// Blobs up to this size are copied between registries in one `PUT ?digest=` with the
        /// body; larger ones are streamed with `PATCH` and committed with an empty `PUT`.
        public var monolithicUploadLimit: Int64

        public init(
            credentials: CredentialStore? = nil,
            insecureRegistries: Set<String> = [],
            caFile: String? = nil,
            maxConcurrentRequests: Int = 8,
            retry: RetryPolicy = RetryPolicy(),
            userAgent: String = "imageprep",
            defaultPlatform: Platform = .linuxAMD64,
            configCache: ConfigBlobCache? = nil,
            timeouts: TransferTimeouts = TransferTimeouts(),
            monolithicUploadLimit: Int64 = 8 * 1024 * 1024
        ) {
            // An empty store cannot fail to load.
            self.credentials = credentials ?? (try! CredentialStore())
            self.insecureRegistries = insecureRegistries
            self.caFile = caFile
            self.maxConcurrentRequests = maxConcurrentRequests
            self.retry = retry
            self.userAgent = userAgent
            self.defaultPlatform = defaultPlatform
            self.configCache = configCache
            self.timeouts = timeouts
            self.monolithicUploadLimit = monolithicUploadLimit
        }
    }

    public let configuration: Configuration
    let transport: CurlTransport
    let logger: Logger
    let endpoints = EndpointCache()
    let tokens = TokenCache()
    let breaker = RegistryBreaker()
    let fetchedManifests = FetchedManifests()

    public init(configuration: Configuration = Configuration(), logger: Logger = Logger(label: "imageprep.registry")) {
        self.configuration = configuration
        self.logger = logger
        transport = CurlTransport(maxConcurrentRequests: configuration.maxConcurrentRequests, timeouts: configuration.timeouts)
    }

    /// Registries this client has reached over plain HTTP or without verifying TLS.
    public func insecurelyReachedRegistries() async -> [String] {
        endpoints.insecurelyReached()
    }

    /// Registries this client has reached over HTTPS with verified TLS.
    public func verifiedRegistries() async -> [String] {
        endpoints.verified()
    }

    /// Whether `registry` is reached over plain HTTP or without verifying TLS (the one
    /// definition, also what buildah is told).
    public func isInsecure(_ registry: String) -> Bool {
        configuration.insecureRegistries.contains(registry.lowercased())
    }
}

/// How one registry is reached: its base URL, TLS policy and authentication challenge.
struct Endpoint: Sendable {
    var baseURL: URL
    var tls: TLSPolicy
    var challenge: AuthChallenge?
}

/// Endpoints found by pinging `/v2/`, one ping per registry per client; a failed ping is
/// asked again by the next request.
struct EndpointCache: Sendable {
    private let flights = SingleFlight<String, Endpoint>(onFailure: .computeAgain)

    func endpoint(for registry: String, discover: @escaping @Sendable () async throws -> Endpoint) async throws
        -> Endpoint
    {
        try await flights.value(for: registry, compute: discover)
    }

    func update(_ registry: String, challenge: AuthChallenge) {
        flights.update(registry) { $0.challenge = challenge }
    }

    func verified() -> [String] {
        flights.computedValues().filter { $0.value.baseURL.scheme == "https" && $0.value.tls != .skipVerification }
            .keys.sorted()
    }

    func insecurelyReached() -> [String] {
        flights.computedValues().filter { $0.value.baseURL.scheme == "http" || $0.value.tls == .skipVerification }
            .keys.sorted()
    }
}
