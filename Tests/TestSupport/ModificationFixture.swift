import Foundation

/// What the modification tests share: the private buildah storage with its base image, a
/// source registry holding that image under the given repositories (tag `current-tripleo`,
/// and `1.0-test`, the versioned tag its `rdo_version` label names, which tag discovery
/// checks the repository has), and an empty destination registry.
public final class ModificationFixture: @unchecked Sendable {
    public let buildah: BuildahFixture
    public let source: RegistryServer
    public let destination: RegistryServer

    public init(seeding repositories: [String]) throws {
        buildah = try BuildahFixture()
        var started: [RegistryServer] = []
        do {
            source = try RegistryServer()
            started.append(source)
            destination = try RegistryServer()
            started.append(destination)
            for repository in repositories {
                for tag in ["current-tripleo", "1.0-test"] {
                    try buildah.buildah([
                        "push", "--tls-verify=false", buildah.baseImage, "docker://\(source.address)/\(repository):\(tag)",
                    ])
                }
            }
        } catch {
            for server in started { server.stop() }
            buildah.remove()
            throw error
        }
    }

    public func stop() {
        source.stop()
        destination.stop()
        buildah.remove()
    }
}
