import Foundation
import ImagePrepOCI
import ImagePrepRegistry

/// Builds small synthetic images and pushes them through the client under test.
enum TestImages {
    struct Pushed {
        var reference: Reference
        var digest: Digest
        var manifest: Manifest
    }

    /// Deterministic pseudo-random bytes, different for each seed.
    static func layer(seed: String, size: Int = 64 * 1024) -> Data {
        var state = UInt64(truncatingIfNeeded: seed.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) })
        var bytes = [UInt8](repeating: 0, count: size)
        for index in 0..<size {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bytes[index] = UInt8(truncatingIfNeeded: state >> 33)
        }
        return Data(bytes)
    }

    static func config(labels: [String: String], architecture: String = "amd64", user: String = "root") throws -> Data {
        let config = ImageConfig(architecture: architecture, os: "linux",
                                 config: ContainerConfig(user: user, labels: labels))
        return try JSONEncoder().encode(config)
    }

    @discardableResult
    static func push(
        _ client: RegistryClient,
        to reference: Reference,
        layers: [Data],
        labels: [String: String] = [:],
        architecture: String = "amd64",
        mediaType: MediaType = .dockerManifest
    ) async throws -> Pushed {
        var descriptors: [Descriptor] = []
        for layer in layers {
            descriptors.append(try await client.pushBlob(layer, mediaType: .dockerLayer, to: reference))
        }
        let configData = try config(labels: labels, architecture: architecture)
        let configDescriptor = try await client.pushBlob(configData, mediaType: .dockerConfig, to: reference)
        let manifest = Manifest(mediaType: mediaType, config: configDescriptor, layers: descriptors)
        let bytes = try JSONEncoder().encode(manifest)
        let digest = try await client.pushManifest(bytes, mediaType: mediaType, to: reference)
        return Pushed(reference: reference, digest: digest, manifest: manifest)
    }
}
