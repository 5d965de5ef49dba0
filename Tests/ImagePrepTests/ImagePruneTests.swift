import Foundation
import ImagePrep
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `imageprep image prune` against Debian's real apache2 serving an image-serve directory and a
/// real docker-registry with deletes enabled. Images are built in code, each version with a
/// layer of its own over a base layer they all share, and a config `created` an hour apart.
final class ImagePruneTests: XCTestCase {
    /// Started on the main thread (see ImageServeFixture).
    nonisolated(unsafe) static var fixture: Result<ImageServeFixture, any Error>?

    override class func setUp() {
        fixture = Result { try ImageServeFixture() }
    }

    override class func tearDown() {
        (try? fixture?.get())?.stop()
    }

    /// Versions of `prune/nova` copied to image-serve: the last one is kept by the env file.
    static let novaVersions = 1...40

    static func layer(_ seed: String) -> Data {
        ImageServeFixture.layer(seed, size: 192 * 1024)
    }

    /// Pushes an image (the shared base layer and one of its own) to `reference`; returns its digest.
    @discardableResult
    static func push(_ client: RegistryClient, _ reference: Reference, own: String, order: Int) async throws -> Digest {
        let layers = [
            try await client.pushBlob(layer("base"), mediaType: .dockerLayer, to: reference),
            try await client.pushBlob(layer(own), mediaType: .dockerLayer, to: reference),
        ]
        // Later orders are newer: an hour apart.
        let created = String(format: "2026-01-%02dT%02d:00:00Z", order / 24 + 1, order % 24)
        let config = Data(#"{"architecture":"amd64","os":"linux","created":"\#(created)","config":{"Labels":{"own":"\#(own)"}},"rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
        let configDescriptor = try await client.pushBlob(config, mediaType: .dockerConfig, to: reference)
        let manifest = Manifest(mediaType: .dockerManifest, config: configDescriptor, layers: layers)
        return try await client.pushManifest(try JSONEncoder().encode(manifest), mediaType: .dockerManifest, to: reference)
    }

    static func copy(_ images: [(repository: String, tag: String)], from source: RegistryServer, to imageServe: ImageServeServer,
                     client: RegistryClient) async throws
    {
        var options = RegistryOptions()
        options.insecureRegistries = [source.address, imageServe.address]
        options.imageServeDirectory = imageServe.root
        options.configCacheDirectory = nil
        let operations = try ImageOperations(options: options)
        for (index, image) in images.enumerated() {
            let reference = Reference(registry: source.address, repository: image.repository, tag: image.tag)
            try await push(client, reference, own: "\(image.repository):\(image.tag)", order: index)
            _ = try await operations.copy(from: reference.description, to: "\(imageServe.address)/\(image.repository):\(image.tag)", allPlatforms: false)
        }
    }

    static func env(_ images: [String], in directory: URL, name: String) throws -> String {
        let file = directory.appendingPathComponent(name)
        var text = "parameter_defaults:\n"
        for (index, image) in images.enumerated() { text += "  Container\(index)Image: \(image)\n" }
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// What one pull of an image over HTTP saw.
    enum Pull: Equatable, Sendable {
        case whole
        case notFound
        /// Anything else: a blob whose bytes do not match, another status, a manifest served
        /// (by digest) after one of its blobs was gone.
        case broken(String)
    }

    struct Seen: Sendable {
        var repository: String
        var tag: String
        var pull: Pull
        var name: String { "\(repository):\(tag)" }
    }

    /// Pulls each of `names` in turn until `stop` is set; returns every pull's outcome.
    final class StopFlag: @unchecked Sendable {
        private let lock = NSLock()
        private var stopped = false
        func set() { lock.withLock { stopped = true } }
        var isSet: Bool { lock.withLock { stopped } }
    }

    static func pullLoop(_ base: String, _ names: [Seen], _ stop: StopFlag) async -> [Seen] {
        let session = URLSession(configuration: .ephemeral)
        var seen: [Seen] = []
        while !stop.isSet {
            for name in names {
                let pull = await pull(session, base, name.repository, name.tag)
                seen.append(Seen(repository: name.repository, tag: name.tag, pull: pull))
            }
        }
        return seen
    }

    /// Pulls `repository:tag` from httpd as a client would: the manifest by tag, then every blob,
    /// each verified. A blob that is gone is only a 404 when its manifest is no longer served.
    static func pull(_ session: URLSession, _ base: String, _ repository: String, _ tag: String) async -> Pull {
        func get(_ path: String) async -> (Int, Data) {
            var request = URLRequest(url: URL(string: "\(base)/v2/\(repository)/\(path)")!)
            // Only manifests are negotiated: a blob asked for with a manifest's type is a 406.
            if path.hasPrefix("manifests/") { request.setValue(MediaType.dockerManifest.rawValue, forHTTPHeaderField: "Accept") }
            guard let (data, response) = try? await session.data(for: request) else { return (0, Data()) }
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
        }
        let (status, data) = await get("manifests/\(tag)")
        if status == 404 { return .notFound }
        guard status == 200, let manifest = try? JSONDecoder().decode(Manifest.self, from: data) else {
            return .broken("manifest \(repository):\(tag): HTTP \(status)")
        }
        let digest = Digest(of: data)
        for blob in manifest.blobs {
            let (blobStatus, bytes) = await get("blobs/\(blob.digest)")
            if blobStatus == 404 {
                let (again, _) = await get("manifests/\(digest)/index.json")
                return again == 404 ? .notFound : .broken("blob \(blob.digest) of \(repository):\(tag) gone while its manifest is served (HTTP \(again))")
            }
            guard blobStatus == 200, Digest(of: bytes) == blob.digest else {
                return .broken("blob \(blob.digest) of \(repository):\(tag): HTTP \(blobStatus), \(bytes.count) bytes")
            }
        }
        return .whole
    }

    /// Every file under `*/manifests/` and `*/blobs/` of a directory, by inode, with its size.
    static func storedFiles(_ root: URL) -> [UInt64: Int64] {
        var result: [UInt64: Int64] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        while let relative = enumerator?.nextObject() as? String {
            guard relative.contains("/manifests/") || relative.contains("/blobs/") else { continue }
            var info = stat()
            guard lstat(root.appendingPathComponent(relative).path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            result[UInt64(info.st_ino)] = Int64(info.st_size)
        }
        return result
    }

    /// `image delete --keep-env`: a tag an env file still names is refused, at image-serve and
    /// at a registry, where another tag naming the same manifest (deleted by digest) is too.
    func testDeleteRefusesWhatAKeptEnvNames() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.source, fixture.imageServe)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let client = RegistryClient(configuration: RegistryClient.Configuration(insecureRegistries: [source.address, imageServe.address]))

        // At a registry (the source registry: the prune tests list the other one whole).
        let kept = Reference(registry: source.address, repository: "keepdel/nova", tag: "kept")
        let digest = try await Self.push(client, kept, own: "keepdel-kept", order: 1)
        let one = try await client.fetchManifest(kept)
        try await client.pushManifest(one.bytes, mediaType: one.mediaType, to: Reference(registry: source.address, repository: "keepdel/nova", tag: "alias"))
        try await Self.push(client, Reference(registry: source.address, repository: "keepdel/nova", tag: "old"), own: "keepdel-old", order: 0)
        let keep = try Self.env(["\(kept)"], in: work, name: "deployed-env.yaml")
        let delete = { (name: String) in
            try CLI.run(["image", "delete", name, "--keep-env", keep, "--insecure-registry", source.address])
        }
        let byTag = try delete("\(kept)")
        XCTAssertEqual(byTag.status, 1)
        XCTAssertEqual(byTag.stderr, "Error: \(kept): a --keep-env file still names it: not deleted\n")
        let alias = try delete("\(source.address)/keepdel/nova:alias")
        XCTAssertEqual(alias.status, 1)
        XCTAssertEqual(alias.stderr, "Error: \(source.address)/keepdel/nova:alias: the same manifest as \(kept), which a --keep-env file still names (a registry deletes a manifest with all its tags): not deleted\n")
        let byDigest = try delete("\(source.address)/keepdel/nova@\(digest)")
        XCTAssertEqual(byDigest.status, 1, byDigest.stdout)
        let tags = try await client.listTags(Reference(registry: source.address, repository: "keepdel/nova")).sorted()
        XCTAssertEqual(tags, ["alias", "kept", "old"], "nothing was deleted")
        let old = try delete("\(source.address)/keepdel/nova:old")
        XCTAssertEqual(old.status, 0, old.stderr)
        XCTAssertTrue(old.stdout.hasPrefix("deleted \(source.address)/keepdel/nova:old (sha256:"), old.stdout)
        let after = try await client.listTags(Reference(registry: source.address, repository: "keepdel/nova")).sorted()
        XCTAssertEqual(after, ["alias", "kept"])
        let foreign = try CLI.run(["image", "delete", "\(imageServe.address)/keepdel/nova:old", "--keep-env", keep,
                                   "--insecure-registry", imageServe.address, "--image-serve-dir", imageServe.root.path])
        XCTAssertEqual(foreign.status, 1)
        XCTAssertEqual(foreign.stderr, "Error: \(keep): no image parameter names an image on \(imageServe.address): refusing to delete by it\n")

        // At image-serve: the kept tag is refused, another tag of the same image is not.
        try await Self.copy([("keepdel/nova", "kept"), ("keepdel/nova", "old")], from: source, to: imageServe, client: client)
        let served = try Self.env(["\(imageServe.address)/keepdel/nova:kept"], in: work, name: "served-env.yaml")
        let serveOptions = ["--insecure-registry", imageServe.address, "--image-serve-dir", imageServe.root.path]
        let refused = try CLI.run(["image", "delete", "\(imageServe.address)/keepdel/nova:kept", "--keep-env", served] + serveOptions)
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderr, "Error: \(imageServe.address)/keepdel/nova:kept: a --keep-env file still names it: not deleted\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: imageServe.root.appendingPathComponent("v2/keepdel/nova/manifests/kept.type-map").path))
        let allowed = try CLI.run(["image", "delete", "\(imageServe.address)/keepdel/nova:old", "--keep-env", served] + serveOptions)
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertEqual(try String(contentsOf: imageServe.root.appendingPathComponent("v2/keepdel/nova/tags/list"), encoding: .utf8),
                       #"{"name": "keepdel/nova", "tags": ["kept"]}"#)
        // Leave image-serve as the prune test expects it.
        let cleanup = try CLI.run(["image", "delete", "\(imageServe.address)/keepdel/nova:kept"] + serveOptions)
        XCTAssertEqual(cleanup.status, 0, cleanup.stderr)
    }

    func testImageServePruneUnderAConcurrentPullLoop() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.source, fixture.imageServe)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let client = RegistryClient(configuration: RegistryClient.Configuration(insecureRegistries: [source.address, imageServe.address]))
        let images: [(repository: String, tag: String)] = Self.novaVersions.map { ("prune/nova", "\($0)") } + [("prune/keystone", "1"), ("prune/old", "1")]
        // Copied in a scope of its own: the copies' directory (and its shared run lock) is
        // released before the prune, which takes the lock exclusively.
        try await Self.copy(images, from: source, to: imageServe, client: client)
        let keptNova = "\(Self.novaVersions.last!)"
        let keep = try Self.env(["\(imageServe.address)/prune/nova:\(keptNova)", "\(imageServe.address)/prune/keystone:1",
                                 "\(source.address)/elsewhere/ignored:1"], in: work, name: "kept-env.yaml")
        let insecure = ["--insecure-registry", imageServe.address, "--image-serve-dir", imageServe.root.path]
        let prune = ["image", "prune", "--registry", imageServe.address, "--keep-env", keep] + insecure

        // Refusals: one line each, nothing touched.
        let before = imageServe.snapshot()
        let none = try CLI.run(["image", "prune", "--registry", imageServe.address] + insecure)
        XCTAssertEqual(none.status, 1)
        XCTAssertEqual(none.stderr, "Error: image prune: give the env files whose images to keep (--keep-env FILE...); without them every tag would go\n")
        let elsewhere = try Self.env(["\(source.address)/prune/nova:1"], in: work, name: "elsewhere-env.yaml")
        let foreign = try CLI.run(prune + ["--keep-env", elsewhere])
        XCTAssertEqual(foreign.status, 1)
        XCTAssertEqual(foreign.stderr, "Error: \(elsewhere): no image parameter names an image on \(imageServe.address): refusing to prune by it\n")

        // --keep-last 2 keeps the two newest nova tags besides (39 and 40) and old:1.
        let keepLast = try CLI.run(prune + ["--keep-last", "2", "--dry-run"])
        XCTAssertEqual(keepLast.status, 0, keepLast.stderr)
        XCTAssertFalse(keepLast.stdout.contains("prune/nova:39 ("), keepLast.stdout)
        XCTAssertTrue(keepLast.stdout.contains("prune/nova:38 ("), keepLast.stdout)
        XCTAssertFalse(keepLast.stdout.contains("prune/old:1"), keepLast.stdout)

        let dry = try CLI.run(prune + ["--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertEqual(imageServe.snapshot(), before, "a dry run removes nothing")
        for tag in Self.novaVersions.dropLast() {
            XCTAssertTrue(dry.stdout.contains("would remove tag \(imageServe.address)/prune/nova:\(tag) ("), dry.stdout)
        }
        XCTAssertTrue(dry.stdout.contains("would remove tag \(imageServe.address)/prune/old:1 ("), dry.stdout)
        XCTAssertFalse(dry.stdout.contains("prune/nova:\(keptNova) ("), dry.stdout)
        XCTAssertFalse(dry.stdout.contains("keystone"), dry.stdout)

        // The pull loop: kept and pruned images, over and over, while the prune runs.
        let stored = Self.storedFiles(imageServe.root)
        let base = "http://\(imageServe.address)"
        let session = URLSession(configuration: .ephemeral)
        let names = images.reversed().map { Seen(repository: $0.repository, tag: $0.tag, pull: .whole) }
        let stop = StopFlag()
        // Four loops, each starting at another image, so the prune's few milliseconds meet pulls.
        async let pulls0 = Self.pullLoop(base, names, stop)
        async let pulls1 = Self.pullLoop(base, Array(names[10...] + names[..<10]), stop)
        async let pulls2 = Self.pullLoop(base, Array(names[20...] + names[..<20]), stop)
        async let pulls3 = Self.pullLoop(base, Array(names[30...] + names[..<30]), stop)
        // Let the loop get going first.
        for _ in 0..<200 where imageServe.requests().count < 40 {
            try await Task.sleep(for: .milliseconds(50))
        }
        let run = try CLI.run(prune)
        stop.set()
        let seen = await pulls0 + pulls1 + pulls2 + pulls3
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout.replacingOccurrences(of: "removed", with: "would remove").replacingOccurrences(of: "bytes freed", with: "bytes would be freed"),
                       dry.stdout, "the dry run prints the same list")

        let broken = seen.filter { if case .broken = $0.pull { return true } else { return false } }
        XCTAssertEqual(broken.map { "\($0.name): \($0.pull)" }, [], "only whole images or 404s")
        for kept in ["prune/nova:\(keptNova)", "prune/keystone:1"] {
            XCTAssertFalse(seen.contains { $0.name == kept && $0.pull != .whole }, "\(kept) is whole at every pull")
        }
        XCTAssertGreaterThan(seen.count, images.count, "the loop ran")
        for (repository, tag) in images {
            let after = await Self.pull(session, base, repository, tag)
            let kept = (repository == "prune/nova" && tag == keptNova) || repository == "prune/keystone"
            XCTAssertEqual(after, kept ? .whole : .notFound, "\(repository):\(tag)")
        }

        // Bytes freed: the size of every stored file whose last link went, each counted once.
        let left = Self.storedFiles(imageServe.root)
        let freed = stored.filter { left[$0.key] == nil }.values.reduce(0, +)
        XCTAssertGreaterThan(freed, Int64(Self.novaVersions.count - 1) * 192 * 1024)
        XCTAssertTrue(run.stdout.hasSuffix("; 2 tag(s) kept; \(freed) bytes freed\n"), run.stdout)
        let removedBytes = run.stdout.split(separator: "\n").compactMap { line -> Int64? in
            guard let open = line.lastIndex(of: "("), line.hasSuffix(" bytes)") else { return nil }
            return Int64(line[line.index(after: open)...].dropLast(" bytes)".count))
        }
        XCTAssertEqual(removedBytes.reduce(0, +), freed, "each removal's bytes add up")
        // The base layer all images share is still hard-linked into what was kept, not freed.
        XCTAssertFalse(run.stdout.contains("prune/nova \(Digest(of: Self.layer("base"))).gz ("), run.stdout)

        let catalog = try String(contentsOf: imageServe.root.appendingPathComponent("v2/_catalog"), encoding: .utf8)
        XCTAssertEqual(catalog, #"{"repositories": ["prune/keystone", "prune/nova"]}"#)
        XCTAssertEqual(try String(contentsOf: imageServe.root.appendingPathComponent("v2/prune/nova/tags/list"), encoding: .utf8),
                       #"{"name": "prune/nova", "tags": ["\#(keptNova)"]}"#)
        XCTAssertFalse(FileManager.default.fileExists(atPath: imageServe.root.appendingPathComponent("v2/prune/old").path))

        let again = try CLI.run(prune)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.hasPrefix("removed 0 tag(s), 0 manifest(s) and blob(s)"), again.stdout)
    }

    func testRegistryPruneDeletesManifestsByDigest() async throws {
        let registry = try XCTUnwrap(Self.fixture).get().registry
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let client = RegistryClient(configuration: RegistryClient.Configuration(insecureRegistries: [registry.address]))
        var digests: [String: Digest] = [:]
        for (tag, month) in [("1", 1), ("2", 2), ("3", 3)] {
            digests[tag] = try await Self.push(client, Reference(registry: registry.address, repository: "prune/nova", tag: tag), own: tag, order: month)
        }
        // Another tag naming version 1's manifest: deleting it by digest would take the kept tag.
        let one = try await client.fetchManifest(Reference(registry: registry.address, repository: "prune/nova", tag: "1"))
        let alias = try await client.pushManifest(one.bytes, mediaType: one.mediaType,
                                                  to: Reference(registry: registry.address, repository: "prune/nova", tag: "1-alias"))
        XCTAssertEqual(alias, digests["1"])
        try await Self.push(client, Reference(registry: registry.address, repository: "prune/keystone", tag: "1"), own: "k1", order: 1)
        try await Self.push(client, Reference(registry: registry.address, repository: "prune/keystone", tag: "2"), own: "k2", order: 2)
        let keep = try Self.env(["\(registry.address)/prune/nova:1"], in: work, name: "kept-env.yaml")
        let prune = ["image", "prune", "--registry", registry.address, "--keep-env", keep, "--keep-last", "1",
                     "--insecure-registry", registry.address]

        let keystone1 = try await client.headManifest(Reference(registry: registry.address, repository: "prune/keystone", tag: "1"))!.digest
        let dry = try CLI.run(prune + ["--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertEqual(dry.stdout, """
            would remove tag \(registry.address)/prune/keystone:1 (\(keystone1))
            would remove tag \(registry.address)/prune/nova:2 (\(digests["2"]!))
            would remove 2 tag(s) (manifests deleted by digest); 4 tag(s) kept; blobs are left to \(registry.address)'s garbage collection (registry garbage-collect), 0 bytes freed now

            """)
        let before = try await client.listTags(Reference(registry: registry.address, repository: "prune/nova")).sorted()
        XCTAssertEqual(before, ["1", "1-alias", "2", "3"])

        let run = try CLI.run(prune)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout, dry.stdout.replacingOccurrences(of: "would remove", with: "removed"))
        let nova = try await client.listTags(Reference(registry: registry.address, repository: "prune/nova")).sorted()
        XCTAssertEqual(nova, ["1", "1-alias", "3"])
        let keystone = try await client.listTags(Reference(registry: registry.address, repository: "prune/keystone")).sorted()
        XCTAssertEqual(keystone, ["2"])
        XCTAssertTrue(registry.requests().contains { $0.hasPrefix("DELETE /v2/prune/nova/manifests/\(digests["2"]!)") }, "\(registry.requests())")
        let deleted = try await client.headManifest(Reference(registry: registry.address, repository: "prune/nova", digest: digests["2"]!))
        XCTAssertNil(deleted)
    }

    /// A tag only a `<Role>Parameters` mapping names (where prepare writes a role's own
    /// images) is kept by prune, absent from its dry run, and refused by `image delete`; an
    /// env file naming images only there is not refused as naming none.
    func testPruneKeepsWhatOnlyARoleParametersMappingNames() async throws {
        // A registry of its own: the other prune tests list theirs whole.
        let registry = try RegistryServer()
        defer { registry.stop() }
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let client = RegistryClient(configuration: RegistryClient.Configuration(insecureRegistries: [registry.address]))
        for (repository, tag, order) in [("role/api", "1", 1), ("role/compute", "1", 2), ("role/compute", "2", 3), ("role/api", "0", 0)] {
            try await Self.push(client, Reference(registry: registry.address, repository: repository, tag: tag), own: "\(repository):\(tag)", order: order)
        }
        let roleOnly = work.appendingPathComponent("compute-env.yaml")
        try """
            parameter_defaults:
              ComputeParameters:
                ContainerNovaComputeImage: \(registry.address)/role/compute:1
            """.write(to: roleOnly, atomically: true, encoding: .utf8)
        let both = work.appendingPathComponent("deployed-env.yaml")
        try """
            parameter_defaults:
              ContainerNovaApiImage: \(registry.address)/role/api:1
              ComputeParameters:
                ContainerNovaComputeImage: \(registry.address)/role/compute:1
              ControllerParameters: {}
            """.write(to: both, atomically: true, encoding: .utf8)
        let insecure = ["--insecure-registry", registry.address]

        let refused = try CLI.run(["image", "delete", "\(registry.address)/role/compute:1", "--keep-env", roleOnly.path] + insecure)
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderr, "Error: \(registry.address)/role/compute:1: a --keep-env file still names it: not deleted\n")

        let prune = ["image", "prune", "--registry", registry.address, "--keep-env", both.path] + insecure
        let dry = try CLI.run(prune + ["--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertFalse(dry.stdout.contains("role/compute:1 ("), dry.stdout)
        XCTAssertFalse(dry.stdout.contains("role/api:1 ("), dry.stdout)
        XCTAssertTrue(dry.stdout.contains("would remove tag \(registry.address)/role/compute:2 ("), dry.stdout)
        XCTAssertTrue(dry.stdout.contains("would remove tag \(registry.address)/role/api:0 ("), dry.stdout)
        XCTAssertTrue(dry.stdout.contains("would remove 2 tag(s)"), dry.stdout)

        let roleOnlyPrune = try CLI.run(["image", "prune", "--registry", registry.address, "--keep-env", roleOnly.path, "--dry-run"] + insecure)
        XCTAssertEqual(roleOnlyPrune.status, 0, roleOnlyPrune.stderr)
        XCTAssertFalse(roleOnlyPrune.stdout.contains("role/compute:1 ("), roleOnlyPrune.stdout)

        let run = try CLI.run(prune)
        XCTAssertEqual(run.status, 0, run.stderr)
        let compute = try await client.listTags(Reference(registry: registry.address, repository: "role/compute")).sorted()
        XCTAssertEqual(compute, ["1"])
        let api = try await client.listTags(Reference(registry: registry.address, repository: "role/api")).sorted()
        XCTAssertEqual(api, ["1"])
    }
}
