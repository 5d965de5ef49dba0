import Foundation
import ImagePrepArchive
import ImagePrepBuild
import ImagePrepRegistry

/// An RPM installed in an image.
public struct InstalledPackage: Sendable, Equatable, Hashable, Codable {
    public var name: String
    public var epoch: String?
    public var version: String
    public var release: String
    public var arch: String

    public var nevra: String {
        "\(name)-\(epoch.map { "\($0):" } ?? "")\(version)-\(release).\(arch)"
    }
}

/// The RPMs installed in images, read by streaming their layers from the
/// registry (top layer first, stopping at the first layer that holds the
/// rpmdb), extracting only the rpmdb files and asking the host's `rpm` about
/// them. Results are kept per layer digest, so images sharing a base are read
/// once.
public actor PackageInventory {
    enum Finding {
        case noDatabase
        case packages([InstalledPackage])
    }

    static let databaseDirectories = ["usr/lib/sysimage/rpm", "var/lib/rpm"]

    let client: RegistryClient
    private var findings: [String: Finding] = [:]
    private var host: Result<[InstalledPackage], any Error>?
    /// Layers streamed from the registry, for the operator and the tests.
    public private(set) var layersRead = 0

    public init(options: RegistryOptions) throws(PrepareError) {
        let registries = try RegistriesConf.load(path: options.registriesConfFile)
        client = try RegistrySession.makeClient(options: options, insecure: Set(options.insecureRegistries + registries.insecureRegistries))
    }

    init(client: RegistryClient) {
        self.client = client
    }

    /// Each image's manifest, resolved once per inventory (a name is looked at for its
    /// packages and then its architecture).
    private var manifests: [String: ResolvedManifest] = [:]

    func resolve(_ name: String) async throws -> (Reference, ResolvedManifest) {
        let reference = try ImageOperations.reference(name)
        if let known = manifests[name] { return (reference, known) }
        let image = try await client.resolveImage(reference)
        manifests[name] = image
        return (reference, image)
    }

    public func packages(of name: String) async throws -> [InstalledPackage] {
        let (reference, image) = try await resolve(name)
        let repository = image.indexDigest == nil ? reference : reference.withDigest(image.raw.digest)
        for layer in image.manifest.layers.reversed() {
            let key = layer.digest.description
            let finding: Finding
            if let known = findings[key] {
                finding = known
            } else {
                finding = try await scan(layer, of: repository)
                findings[key] = finding
                layersRead += 1
            }
            if case .packages(let packages) = finding { return packages }
        }
        throw PrepareError.invalidReference(name, "no rpm database (/var/lib/rpm or /usr/lib/sysimage/rpm) in any layer")
    }

    private func scan(_ layer: Descriptor, of repository: Reference) async throws -> Finding {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-rpmdb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        guard let found = try await Self.extractDatabase(of: layer, in: repository, client: client, into: directory) else {
            return .noDatabase
        }
        return .packages(try await Self.query(found.database, backend: found.backend, layer: layer.digest.description))
    }

    /// Streams `layer` from the registry and extracts only its rpmdb files into `directory`;
    /// returns the database found there and its backend, nil when the layer has none.
    static func extractDatabase(
        of layer: Descriptor, in repository: Reference, client: RegistryClient, into directory: URL
    ) async throws -> (database: URL, backend: String)? {
        let stream = client.streamBlob(repository, descriptor: layer)
        let name = layer.digest.description
        // libarchive reads block: keep them off the concurrency pool.
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    continuation.resume(returning: try Self.extractDatabase(stream, layer: name, into: directory))
                } catch {
                    stream.cancel()
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Extracts only the rpmdb files of a layer into `directory`; returns
    /// the database found there and its backend.
    private static func extractDatabase(
        _ stream: BlobStream, layer: String, into directory: URL
    ) throws -> (database: URL, backend: String)? {
        let reader = try ArchiveReader(source: layer) { try stream.read(into: $0) }
        var extractor = LayerExtractor(root: directory) { path in
            databaseDirectories.contains { path.hasPrefix($0 + "/") }
        }
        try extractor.apply(reader, layer: layer)
        for relative in databaseDirectories {
            let database = directory.appendingPathComponent(relative)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: database.path)) ?? []
            if files.contains("rpmdb.sqlite") { return (database, "sqlite") }
            if files.contains("Packages") { return (database, "bdb_ro") }
            if files.contains("Packages.db") { return (database, "ndb") }
        }
        return nil
    }

    static let queryFormat = ["-qa", "--queryformat", "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n"]

    /// The host's installed packages, read once per inventory.
    public func hostPackages() async throws -> [InstalledPackage] {
        if let host { return try host.get() }
        let result: Result<[InstalledPackage], any Error>
        do { result = .success(try await Self.readHostPackages()) } catch { result = .failure(error) }
        host = result
        return try result.get()
    }

    /// The host's installed packages (its own rpm database), for `compare_host_packages`.
    static func readHostPackages() async throws -> [InstalledPackage] {
        let output: String
        do {
            output = try await CommandRunner.capture("rpm", queryFormat)
        } catch let failure as CommandRunner.Failure {
            throw PrepareError.unreadable(
                path: "the host's rpm database",
                reason: "compare_host_packages needs 'rpm -qa' on this host: " + failure.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return parse(output)
    }

    /// The packages of `installed` whose version differs from the host's package of that
    /// name; packages the host does not have are left alone, as `compare_host_packages` asks.
    public static func packagesToUpdate(_ installed: [InstalledPackage], host: [InstalledPackage]) -> [String] {
        let hostVersions = Dictionary(grouping: host, by: \.name)
        return Set(installed.compactMap { package -> String? in
            guard let versions = hostVersions[package.name] else { return nil }
            return versions.contains { RPMVersion.compare($0, package) == 0 } ? nil : package.name
        }).sorted()
    }

    private static func query(_ database: URL, backend: String, layer: String) async throws -> [InstalledPackage] {
        let output: String
        do {
            output = try await CommandRunner.capture("rpm", [
                "--dbpath", database.path, "--define", "_db_backend \(backend)",
            ] + queryFormat)
        } catch let failure as CommandRunner.Failure {
            throw PrepareError.invalidReference(
                layer,
                "the host's rpm cannot read this image's \(backend == "bdb_ro" ? "Berkeley DB" : backend) rpm database: "
                    + failure.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return parse(output)
    }

    static func parse(_ output: String) -> [InstalledPackage] {
        output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 5 else { return nil }
            return InstalledPackage(
                name: fields[0], epoch: fields[1] == "(none)" ? nil : fields[1], version: fields[2], release: fields[3], arch: fields[4])
        }.sorted { $0.name < $1.name }
    }
}
