import Foundation

/// buildah, driven as a subprocess, with its own storage when asked (the
/// tests and CI use `vfs` storage and `chroot` isolation, which work as root
/// without a daemon).
public struct Buildah: Sendable {
    public var root: String?
    public var runRoot: String?
    public var storageDriver: String?
    public var isolation: String?

    public init(root: String? = nil, runRoot: String? = nil, storageDriver: String? = nil, isolation: String? = nil) {
        self.root = root
        self.runRoot = runRoot
        self.storageDriver = storageDriver
        self.isolation = isolation
    }

    var globalArguments: [String] {
        var arguments: [String] = []
        if let root { arguments += ["--root", root] }
        if let runRoot { arguments += ["--runroot", runRoot] }
        if let storageDriver { arguments += ["--storage-driver", storageDriver] }
        return arguments
    }

    func logged(_ arguments: [String], log: URL) async throws {
        try await CommandRunner.logged("buildah", globalArguments + arguments, name: "buildah \(arguments[0])", log: log)
    }

    func capture(_ arguments: [String]) async throws -> String {
        try await CommandRunner.capture("buildah", globalArguments + arguments, name: "buildah \(arguments[0])")
    }

    /// Pulls an image into buildah's storage.
    public func pull(_ image: String, tlsVerify: Bool, access: RegistryAccess = RegistryAccess(), log: URL) async throws {
        try await logged(["pull", "--tls-verify=\(tlsVerify)"] + access.arguments + [image], log: log)
    }

    /// The image's configured user (empty when it runs as root by default).
    public func user(of image: String) async throws -> String {
        try await capture(["inspect", "--type", "image", "--format", "{{.OCIv1.Config.User}}", image])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Builds `Dockerfile.modified` of a context, tagging the result `tag`.
    public func build(
        _ context: BuildContext, tag: String, tlsVerify: Bool, access: RegistryAccess = RegistryAccess(), log: URL
    ) async throws {
        var arguments = [
            "bud", "--format", "docker", "--file", context.dockerfile.path, "--network", "host", "--layers=false",
            "--tls-verify=\(tlsVerify)", "--tag", tag,
        ] + access.arguments
        if let isolation { arguments += ["--isolation", isolation] }
        for volume in context.volumes { arguments += ["--volume", volume] }
        arguments.append(context.directory.path)
        try await logged(arguments, log: log)
    }

    /// Writes an image to an OCI layout directory, for the registry client
    /// to push.
    public func pushToOCILayout(_ image: String, directory: URL, log: URL) async throws {
        try await logged(["push", "--format", "oci", image, "oci:\(directory.path):latest"], log: log)
    }

    /// An image of local container storage: its ID and labels.
    public struct LocalImage: Sendable, Equatable {
        public var id: String
        public var labels: [String: String]
    }

    /// The local image `name` names, found as podman finds it (`mylocal/x:t` is
    /// `localhost/mylocal/x:t`); nil when the storage has no such image.
    public func localImage(_ name: String) async throws -> LocalImage? {
        let output: String
        do {
            output = try await capture(["inspect", "--type", "image", name])
        } catch let failure as CommandRunner.Failure
            where failure.output.contains("not known") || failure.output.contains("not found")
            || failure.output.contains("does not exist")
        {
            return nil
        }
        // The parts of buildah's description of the image that are needed.
        struct Inspection: Decodable {
            struct OCI: Decodable {
                struct Config: Decodable {
                    var Labels: [String: String]?
                }
                var config: Config?
            }
            var FromImageID: String
            var OCIv1: OCI?
        }
        let inspection: Inspection
        do {
            inspection = try JSONDecoder().decode(Inspection.self, from: Data(output.utf8))
        } catch {
            throw CommandRunner.Failure(command: "buildah inspect", status: "unreadable output", output: String(output.prefix(300)))
        }
        return LocalImage(id: inspection.FromImageID, labels: inspection.OCIv1?.config?.Labels ?? [:])
    }

    /// Loads the image an OCI layout's `index.json` names `reference` into local storage as
    /// `name`: buildah names a pulled layout after its directory, so that name is removed
    /// again (the image keeps `name`). Returns the image's ID.
    public func load(layout directory: URL, reference: String, as name: String, log: URL) async throws -> String {
        let output = try await capture(["pull", "--quiet", "oci:\(directory.path):\(reference)"])
        guard let id = output.split(whereSeparator: \.isNewline).last.map(String.init), !id.isEmpty else {
            throw CommandRunner.Failure(command: "buildah pull", status: "no image ID printed", output: String(output.prefix(300)))
        }
        try await logged(["tag", id, name], log: log)
        try? await untag("localhost\(directory.standardizedFileURL.path):latest", log: log)
        return id
    }

    /// Gives local image `image` (a name or an ID) another name.
    public func tag(_ image: String, as name: String, log: URL) async throws {
        try await logged(["tag", image, name], log: log)
    }

    /// Removes the name `name`; the image goes with its last name (`rmi` without `--force`).
    public func untag(_ name: String, log: URL) async throws {
        try await logged(["rmi", name], log: log)
    }

    /// A working container of local storage (`buildah from`).
    public struct Container: Sendable, Equatable {
        public var id: String
        /// The image it was made from.
        public var imageID: String
    }

    /// Every working container of local storage.
    public func containers() async throws -> [Container] {
        let output = try await capture(["containers", "--all", "--noheading", "--format", "{{.ContainerID}} {{.ImageID}}"])
        return output.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 2 else { return nil }
            return Container(id: String(fields[0]), imageID: String(fields[1]))
        }
    }

    public func removeContainer(_ id: String, log: URL) async throws {
        try await logged(["rm", id], log: log)
    }

    public func removeImage(_ image: String, log: URL) async throws {
        try await logged(["rmi", "--force", image], log: log)
    }
}
