import Foundation
import ImagePrepArchive
import ImagePrepBuild
import ImagePrepConcurrency
import ImagePrepFiles
import ImagePrepOCI
import ImagePrepRegistry

/// Why a layer's rpm database could not be read (the caller names the image and layer).
struct LayerReadError: Error {
    var message: String
}

/// The RPMs installed in images, read by streaming their layers from the
/// registry (top layer first, stopping at the first layer that holds the
/// rpmdb), extracting only the rpmdb files and asking the host's `rpm` about
/// them. Results are kept per layer digest, so images sharing a base are read
/// once. Every layer read is checked against its digest (to its last byte),
/// the rpmdb files are capped in size (each and in all) and number, and an error names the image and the
/// layer, never the scratch directory.
public actor PackageInventory {
    enum Finding {
        case noDatabase
        case packages([InstalledPackage])
    }

    static let databaseDirectories = ["usr/lib/sysimage/rpm", "var/lib/rpm"]
    /// The most entries extracted from a layer's rpm database directories (a real one holds
    /// a few dozen files).
    static let maxDatabaseEntries = 1000

    let client: RegistryClient
    /// The most bytes of rpmdb files extracted from a layer, each and in all (`--max-rpmdb-size`).
    let maxDatabaseSize: Int64
    /// What each layer read holds, by layer digest; a layer being read is its task, so
    /// images sharing a base layer under concurrency read it once.
    private let findings = SingleFlight<String, Finding>(onFailure: .keepForTheRun)
    private var host: Result<[InstalledPackage], any Error>?
    /// Layers streamed from the registry, for the operator and the tests.
    public private(set) var layersRead = 0

    public init(options: RegistryOptions) throws(PrepareError) {
        client = try RegistryClientSetup(options: options).client
        maxDatabaseSize = options.maxDatabaseSize
    }

    init(client: RegistryClient, maxDatabaseSize: Int64 = RegistryOptions().maxDatabaseSize) {
        self.client = client
        self.maxDatabaseSize = maxDatabaseSize
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
        return try await packages(layers: image.manifest.layers, in: repository, name: name)
    }

    /// The packages of an image the resolve stage read: its manifest is not asked for again.
    public func packages(of image: SourceImage) async throws -> [InstalledPackage] {
        try await packages(layers: image.manifest.manifest.layers, in: image.blobRepository, name: image.reference.description)
    }

    /// The packages in the top-most of `layers` (read from `repository`) holding an rpm
    /// database; errors name the image as `name`.
    private func packages(layers: [Descriptor], in repository: Reference, name: String) async throws -> [InstalledPackage] {
        let packages = try await Self.topmostDatabase(in: layers) { layer -> [InstalledPackage]? in
            let finding: Finding
            do {
                finding = try await findings.value(for: layer.digest.description) {
                    await self.countLayerRead()
                    return try await self.scan(layer, of: repository)
                }
            } catch {
                throw PrepareError.unreadableLayer(image: name, layer: layer.digest, cause: error)
            }
            guard case .packages(let packages) = finding else { return nil }
            return packages
        }
        guard let packages else { throw PrepareError.noPackageDatabase(name) }
        return packages
    }

    /// The one search for an image's rpm database: its layers top-most first (a layer's
    /// database replaces those below it), the first for which `read` finds one; nil when none
    /// has one. The inventory reads the packages there, the layer engine's rpm_install
    /// the database itself.
    static func topmostDatabase<Found>(
        in layers: [Descriptor], isolation: isolated (any Actor)? = #isolation,
        _ read: (Descriptor) async throws -> Found?
    ) async rethrows -> Found? {
        for layer in layers.reversed() {
            if let found = try await read(layer) { return found }
        }
        return nil
    }

    private func countLayerRead() {
        layersRead += 1
    }

    /// A layer read's failure in one line: the archive's entry and message, the extraction's
    /// or the registry's message.
    static func layerReadReason(_ error: any Error) -> String {
        switch error {
        case let error as ArchiveError:
            return (error.entry.map { "\($0): " } ?? "") + error.message
        case let error as LayerReadError:
            return error.message
        case let error as RegistryError:
            return error.description
        default:
            return "\(error)"
        }
    }

    private func scan(_ layer: Descriptor, of repository: Reference) async throws -> Finding {
        // Named for the run: removed on a signal, or by the next run if this one dies.
        let directory = URL(fileURLWithPath: RunTemporaries.newPath(
            in: FileManager.default.temporaryDirectory.path, prefix: "imageprep-rpmdb-"))
        defer { RunTemporaries.release(directory.path) }
        guard let found = try await Self.extractDatabase(
            of: layer, in: repository, client: client, into: directory, limit: maxDatabaseSize)
        else {
            return .noDatabase
        }
        return .packages(try await Self.query(found.database, backend: found.backend, root: directory))
    }

    /// Streams `layer` from the registry and extracts only its rpmdb files (each at most
    /// `limit` bytes) into `directory`; returns the database found there and its backend, nil
    /// when the layer has none.
    static func extractDatabase(
        of layer: Descriptor, in repository: Reference, client: RegistryClient, into directory: URL,
        limit: Int64 = RegistryOptions().maxDatabaseSize
    ) async throws -> (database: URL, backend: String)? {
        let stream = client.streamBlob(repository, descriptor: layer)
        let name = layer.digest.description
        // libarchive reads block: off the cooperative pool.
        return try await BlockingWork.run(name: "imageprep-rpmdb", onCancel: { stream.cancel() }) {
            do {
                return try Self.extractDatabase(stream, layer: name, into: directory, limit: limit)
            } catch {
                stream.cancel()
                throw error
            }
        }
    }

    /// Extracts only the rpmdb files of a layer into `directory`, reads the layer to its end
    /// (its digest is checked there), and returns the database found and its backend.
    private static func extractDatabase(
        _ stream: BlobStream, layer: String, into directory: URL, limit: Int64
    ) throws -> (database: URL, backend: String)? {
        let reader = try ArchiveReader(source: layer) { try stream.read(into: $0) }
        var extractor = LayerExtractor(root: directory) { path in
            databaseDirectories.contains { path.hasPrefix($0 + "/") }
        }
        // Each file and all of them together: many files under the cap are no way around it.
        extractor.maxFileSize = limit
        extractor.maxTotalSize = limit
        extractor.maxEntries = maxDatabaseEntries
        extractor.maxFileSizeName = "--max-rpmdb-size"
        try extractor.apply(reader, layer: layer)
        // libarchive stops at the archive's end marker: the rest (padding, or bytes a
        // hostile registry added) still has to match the digest.
        var rest = [UInt8](repeating: 0, count: 64 * 1024)
        while try rest.withUnsafeMutableBytes({ try stream.read(into: $0) }) > 0 {}
        for relative in databaseDirectories {
            let database = directory.appendingPathComponent(relative)
            guard isPlainDirectory(database, under: directory) else { continue }
            let files = (try? FileManager.default.contentsOfDirectory(atPath: database.path)) ?? []
            // rpm reads only regular files of the image: a symbolic link there could name a
            // file of the host (its own rpm database, say).
            for file in files where !isRegular(database.appendingPathComponent(file)) {
                guard unlink(database.appendingPathComponent(file).path) == 0 || errno == EISDIR else {
                    throw LayerReadError(message: "\(relative)/\(file): cannot remove: \(String(cString: strerror(errno)))")
                }
            }
            let kept = Set(files.filter { isRegular(database.appendingPathComponent($0)) })
            if kept.contains("rpmdb.sqlite") { return (database, "sqlite") }
            if kept.contains("Packages") { return (database, "bdb_ro") }
            if kept.contains("Packages.db") { return (database, "ndb") }
        }
        return nil
    }

    /// Whether `url` and every directory between `root` and it are directories, not links.
    private static func isPlainDirectory(_ url: URL, under root: URL) -> Bool {
        var current = root
        for part in url.path.dropFirst(root.path.count).split(separator: "/") {
            current.appendPathComponent(String(part))
            var info = stat()
            guard lstat(current.path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return false }
        }
        return true
    }

    private static func isRegular(_ url: URL) -> Bool {
        var info = stat()
        return lstat(url.path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
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

    /// The packages in the database extracted under `root`; rpm's messages name the
    /// database's path in the image, not `root`.
    private static func query(_ database: URL, backend: String, root: URL) async throws -> [InstalledPackage] {
        let output: String
        do {
            output = try await CommandRunner.capture("rpm", [
                "--dbpath", database.path, "--define", "_db_backend \(backend)",
            ] + queryFormat)
        } catch let failure as CommandRunner.Failure {
            // One line, naming paths as the image has them.
            var message = failure.output.replacingOccurrences(of: root.path, with: "")
                .split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .map { $0.hasPrefix("error: ") ? String($0.dropFirst("error: ".count)) : $0 }
                .filter { !$0.isEmpty }
                .joined(separator: "; ")
            if message.isEmpty { message = "rpm \(failure.status)" }
            throw LayerReadError(
                message: "the host's rpm cannot read this image's \(backend == "bdb_ro" ? "Berkeley DB" : backend) rpm database: "
                    + message)
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
