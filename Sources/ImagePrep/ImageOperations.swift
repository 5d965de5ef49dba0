import Foundation
import ImagePrepBuild
import ImagePrepConcurrency
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// The image commands (`image list/inspect/copy/delete`) and one-image
/// modification, over one registry client.
public struct ImageOperations: Sendable {
    let client: RegistryClient
    let options: RegistryOptions
    let modification: ModificationOptions
    let destinations: DestinationRouter
    /// registries.conf: blocked registries and mirrors for the images read (copy and
    /// modify sources).
    let sources: PullSources

    public init(options: RegistryOptions, modification: ModificationOptions = ModificationOptions()) throws(PrepareError) {
        self.options = options
        self.modification = modification
        let access = try RegistryClientSetup(options: options)
        client = access.client
        sources = PullSources(configuration: access.registries, client: client)
        destinations = DestinationRouter(client: client, imageServeDirectory: options.imageServeDirectory)
    }

    static func reference(_ text: String) throws(PrepareError) -> Reference {
        do {
            return try Reference(text)
        } catch {
            throw PrepareError.invalidName(error)
        }
    }

    /// Every repository of a registry with its tags.
    public func list(registry: String) async throws -> [(repository: String, tags: [String])] {
        var result: [(String, [String])] = []
        for repository in try await client.listRepositories(registry: registry) {
            let tags = try await client.listTags(Reference(registry: registry, repository: repository))
            result.append((repository, tags.sorted()))
        }
        return result
    }

    public func inspect(_ name: String) async throws -> ImageInspection {
        let reference = try Self.reference(name)
        try sources.checkNotBlocked([reference])
        let image = try await client.resolveImage(reference)
        let config = try await client.fetchImageConfig(of: image, in: reference)
        // The repository's tags, as upstream's show lists them; a registry that refuses the
        // listing still shows the image.
        let tags = (try? await client.listTags(reference)) ?? []
        let layers = image.manifest.layers.map {
            ImageInspection.Layer(digest: $0.digest.description, size: $0.size, mediaType: $0.mediaType.rawValue)
        }
        return ImageInspection(
            name: reference.description, digest: image.raw.digest.description, mediaType: image.raw.mediaType.rawValue,
            repositoryTags: tags, created: config.created, dockerVersion: config.dockerVersion, env: config.config?.env ?? [],
            indexDigest: image.indexDigest?.description, architecture: config.architecture, os: config.os, user: config.user,
            labels: config.labels, layers: layers, size: image.manifest.layers.totalSize)
    }

    /// Whether `name`'s registry was written as an image-serve directory or pushed to.
    public func destinationKind(_ name: String) async -> DestinationKind {
        guard let reference = try? Reference(name) else { return .registry }
        return await destinations.kind(of: reference.registry)
    }

    public func copy(from source: String, to destination: String, allPlatforms: Bool) async throws -> ImageCopyReport {
        let copier = ImageCopier(client: client, platforms: allPlatforms ? .all : .only(.linuxAMD64), destinations: destinations)
        let sourceReference = try Self.reference(source)
        let destinationReference = try Self.reference(destination)
        try sources.checkNotBlocked([sourceReference])
        return try await sources.read(sourceReference) { try await copier.copy(from: $0, to: destinationReference) }.value
    }
}
