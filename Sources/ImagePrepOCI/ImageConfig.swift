/// The parts of an image's config blob this tool reads.
public struct ImageConfig: Hashable, Sendable, Codable {
    public var architecture: String?
    public var os: String?
    public var variant: String?
    public var created: String?
    /// The builder's `docker_version`, when a docker daemon built the image.
    public var dockerVersion: String?
    public var config: ContainerConfig?
    public var rootfs: RootFS?

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant, created, config, rootfs
        case dockerVersion = "docker_version"
    }

    public init(architecture: String? = nil, os: String? = nil, config: ContainerConfig? = nil) {
        self.architecture = architecture
        self.os = os
        self.config = config
    }

    public var labels: [String: String] { config?.labels ?? [:] }
    public var user: String? { config?.user }
}

/// The uncompressed digests of the image's layers, bottom first.
public struct RootFS: Hashable, Sendable, Codable {
    public var type: String?
    public var diffIDs: [Digest]

    enum CodingKeys: String, CodingKey {
        case type
        case diffIDs = "diff_ids"
    }
}

public struct ContainerConfig: Hashable, Sendable, Codable {
    public var user: String?
    public var env: [String]?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var workingDir: String?
    public var labels: [String: String]?

    enum CodingKeys: String, CodingKey {
        case user = "User"
        case env = "Env"
        case entrypoint = "Entrypoint"
        case cmd = "Cmd"
        case workingDir = "WorkingDir"
        case labels = "Labels"
    }

    public init(user: String? = nil, labels: [String: String]? = nil) {
        self.user = user
        self.labels = labels
    }
}
