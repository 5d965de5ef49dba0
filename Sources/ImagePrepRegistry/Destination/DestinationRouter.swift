import Foundation
import ImagePrepConcurrency
import ImagePrepOCI

/// Decides, once per destination registry and run, whether images go to it through its push
/// API or into the image-serve directory, as tripleo-common does: before the first copy it
/// asks for an upload session; a registry answering 403, 404, 405 or 501 has no push API
/// and is an image-serve registry.
public actor DestinationRouter {
    public let client: RegistryClient
    /// Where image-serve registries' images are written; nil: every destination is taken
    /// for a registry without asking.
    public let imageServeDirectory: URL?
    /// Where every image goes, whatever its registry (an OCI layout for local storage).
    private let only: (any ImageDestination)?
    /// One probe per registry; a failed probe (network, login) is asked again by the next image.
    private let destinations = SingleFlight<String, any ImageDestination>(onFailure: .computeAgain)
    private var directory: ImageServeDirectory?
    /// Image-serve registries found, with the status that showed it.
    private var imageServe: [String: Int] = [:]

    /// Whether an image-serve directory's new repositories join its catalog at
    /// ``finishWriting()`` rather than one by one (see ``ImageServeDirectory/catalogAtEnd``).
    private let catalogAtEnd: Bool

    /// `catalogAtEnd`: the caller calls ``finishWriting()`` after its last image.
    public init(client: RegistryClient, imageServeDirectory: URL? = nil, catalogAtEnd: Bool = false) {
        self.client = client
        self.imageServeDirectory = imageServeDirectory
        self.catalogAtEnd = catalogAtEnd
        only = nil
    }

    /// Sends every image to `destination`, whatever the registry its reference names.
    public init(client: RegistryClient, every destination: any ImageDestination) {
        self.client = client
        imageServeDirectory = nil
        catalogAtEnd = false
        only = destination
    }

    /// Writes what the destinations left for the end of the run: the image-serve
    /// directory's catalog entries for the repositories this run added.
    public func finishWriting() throws {
        try directory?.writeCatalog()
    }

    /// The destination `reference`'s registry is, found out on the first call.
    public func destination(for reference: Reference) async throws -> any ImageDestination {
        if let only { return only }
        guard let imageServeDirectory else { return RegistryDestination(client: client) }
        let client = client
        return try await destinations.value(for: reference.registry) {
            switch try await client.probeUpload(reference) {
            case .accepted:
                return RegistryDestination(client: client)
            case .refused(let status):
                let directory = try await self.openDirectory(imageServeDirectory, registry: reference.registry, status: status)
                return ImageServeDestination(directory: directory, client: client)
            }
        }
    }

    private func openDirectory(_ url: URL, registry: String, status: Int) throws -> ImageServeDirectory {
        imageServe[registry] = status
        if let directory { return directory }
        do throws(ImageServeError) {
            let opened = try ImageServeDirectory(root: url, catalogAtEnd: catalogAtEnd)
            directory = opened
            return opened
        } catch {
            throw ImageServeError(
                path: url.path,
                message: "\(registry) refuses uploads (HTTP \(status)), so it is taken for an image-serve registry, whose images go into this directory: \(error.message) (give the one its httpd serves with --image-serve-dir)")
        }
    }

    /// Whether `registry` was found to be an image-serve registry.
    public func isImageServe(_ registry: String) -> Bool {
        imageServe[registry] != nil
    }

    /// The registries written as image-serve so far, sorted.
    public func imageServeRegistries() -> [String] {
        imageServe.keys.sorted()
    }
}

/// What asking a registry for an upload session showed.
public enum UploadProbe: Sendable, Equatable {
    case accepted
    /// No push API: the status it answered.
    case refused(status: Int)
}

extension RegistryClient {
    /// `POST /v2/<repo>/blobs/uploads/`: a session opened (and cancelled again) means the
    /// registry accepts uploads; 403, 404, 405 or 501 means it has no push API.
    public func probeUpload(_ repository: Reference) async throws -> UploadProbe {
        let context = Self.context(repository, "checking whether the registry accepts uploads for")
        var request = RegistryRequest(.post, "/v2/\(repository.repository)/blobs/uploads/",
                                      registry: repository.registry, context: context)
        request.scopes = [Self.pushScope(repository.repository)]
        request.allowedStatuses = [403, 404, 405, 501]
        let response = try await send(request)
        if request.allowedStatuses.contains(response.status) { return .refused(status: response.status) }
        if let location = response.headers["Location"] {
            await cancelUpload(location, registry: repository.registry, context: context)
        }
        return .accepted
    }
}
