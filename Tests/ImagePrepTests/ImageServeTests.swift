import Foundation
import ImagePrep
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// The undercloud's image-serve registry as a push destination: Debian's real apache2
/// serving a directory with tripleo-ansible's vhost, filled by `prepare` and `image copy`,
/// read back by imageprep's client and by skopeo.
final class ImageServeTests: XCTestCase {
    struct Fixture {
        var images: ModificationFixture
        var imageServe: ImageServeServer
    }

    nonisolated(unsafe) static var fixture: Result<Fixture, any Error>?

    override class func setUp() {
        fixture = Result {
            // tripleomaster/ for the copies, modified/ for the modifications.
            let images = try ModificationFixture(seeding: ["tripleomaster", "modified"].flatMap {
                ["\($0)/centos-binary-keystone", "\($0)/centos-binary-nova-compute"]
            })
            do {
                return Fixture(images: images, imageServe: try ImageServeServer())
            } catch {
                images.stop()
                throw error
            }
        }
    }

    override class func tearDown() {
        if let fixture = try? fixture?.get() {
            fixture.imageServe.stop()
            fixture.images.stop()
        }
        RPMFixtures.remove()
    }

    /// Runs tripleo-common's image-serve code on `directory` (see tripleo_common_image_serve.py).
    static func upstream(_ python: URL, _ arguments: [String], directory: URL) throws -> String {
        let script = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/tripleo_common_image_serve.py")
        let result = try CLI.runProcess(python, [script.path, arguments[0], directory.path] + arguments.dropFirst())
        XCTAssertEqual(result.status, 0, result.stderr)
        return result.stdout
    }

    func client(_ fixture: Fixture) -> RegistryClient {
        RegistryClient(configuration: RegistryClient.Configuration(
            insecureRegistries: [fixture.images.source.address, fixture.imageServe.address]))
    }

    func testPrepareWritesTheDirectoryApacheServesAndARerunWritesNothing() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.images.source, fixture.imageServe)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let template = work.appendingPathComponent("containers.yaml.j2")
        try """
            container_images_template:
            - imagename: "{{namespace}}/{{name_prefix}}keystone{{name_suffix}}:{{tag}}"
              params: [DockerKeystoneImage]
            - imagename: "{{namespace}}/{{name_prefix}}nova-compute{{name_suffix}}:{{tag}}"
              params: [DockerNovaComputeImage]
            """.write(to: template, atomically: true, encoding: .utf8)
        let env = work.appendingPathComponent("containers-prepare-parameter.yaml")
        try """
            parameter_defaults:
              DockerInsecureRegistryAddress: [\(source.address), \(imageServe.address)]
              ContainerImagePrepare:
              - push_destination: \(imageServe.address)
                tag_from_label: rdo_version
                set: {namespace: \(source.address)/tripleomaster, name_prefix: centos-binary-, tag: current-tripleo}
            """.write(to: env, atomically: true, encoding: .utf8)
        let arguments = [
            "prepare", "-e", env.path, "--template-file", template.path, "--image-serve-dir", imageServe.root.path,
            "--cache-dir", work.appendingPathComponent("cache").path,
        ]

        let requestsBefore = imageServe.requests().count
        let first = try CLI.run(arguments)
        XCTAssertEqual(first.status, 0, first.stderr)
        let requests = imageServe.requests().dropFirst(requestsBefore)
        XCTAssertTrue(first.stdout.contains("DockerKeystoneImage: \(imageServe.address)/tripleomaster/centos-binary-keystone:1.0-test"), first.stdout)
        XCTAssertTrue(
            first.stderr.contains("\(imageServe.address) is an image-serve registry (no push API): its images are files in \(imageServe.root.path), which its httpd serves."),
            first.stderr)
        // Detection as upstream: one upload-session request, which httpd refuses.
        let posts = requests.filter { $0.hasPrefix("POST ") }
        XCTAssertEqual(posts.count, 1, "\(Array(requests))")
        XCTAssertTrue(posts.allSatisfy { $0.hasPrefix("POST /v2/tripleomaster/centos-binary-") && $0.hasSuffix("/blobs/uploads/ 404") }, "\(posts)")
        XCTAssertFalse(requests.contains { $0.hasPrefix("PUT ") || $0.hasPrefix("PATCH ") })

        // The layout tripleo-common writes, with the source's manifest byte for byte.
        let client = client(fixture)
        let sourceImage = try Reference("\(source.address)/tripleomaster/centos-binary-keystone:current-tripleo")
        let sourceManifest = try await client.fetchManifest(sourceImage)
        let manifest = try JSONDecoder().decode(Manifest.self, from: sourceManifest.bytes)
        let v2 = imageServe.root.appendingPathComponent("v2")
        let keystone = v2.appendingPathComponent("tripleomaster/centos-binary-keystone")
        let manifestDirectory = keystone.appendingPathComponent("manifests/\(sourceManifest.digest)")
        XCTAssertEqual(try Data(contentsOf: manifestDirectory.appendingPathComponent("index.json")), sourceManifest.bytes)
        XCTAssertEqual(try String(contentsOf: manifestDirectory.appendingPathComponent(".htaccess"), encoding: .utf8), """
            Header set Content-Type "\(sourceManifest.mediaType)"
            Header set Docker-Content-Digest "\(sourceManifest.digest)"
            Header set ETag "\(sourceManifest.digest)"

            """)
        XCTAssertEqual(try String(contentsOf: keystone.appendingPathComponent("manifests/1.0-test.type-map"), encoding: .utf8), """
            URI: 1.0-test

            Content-Type: \(sourceManifest.mediaType)
            URI: \(sourceManifest.digest)/index.json


            """)
        XCTAssertEqual(try String(contentsOf: keystone.appendingPathComponent("tags/list"), encoding: .utf8),
                       #"{"name": "tripleomaster/centos-binary-keystone", "tags": ["1.0-test"]}"#)
        let catalog = try String(contentsOf: v2.appendingPathComponent("_catalog"), encoding: .utf8)
        XCTAssertTrue(catalog.hasPrefix(#"{"repositories": ["#) && catalog.hasSuffix("]}"), catalog)
        XCTAssertTrue(catalog.contains(#""tripleomaster/centos-binary-keystone", "tripleomaster/centos-binary-nova-compute""#), catalog)
        XCTAssertEqual(try String(contentsOf: v2.appendingPathComponent("index.json"), encoding: .utf8), "{}")
        XCTAssertTrue(FileManager.default.fileExists(atPath: keystone.appendingPathComponent("blobs/\(manifest.config.digest)").path))
        // Each layer is stored once: the second repository's is a hard link.
        for layer in manifest.layers {
            let name = "blobs/\(layer.digest).gz"
            let inode = try XCTUnwrap(imageServe.inode("v2/tripleomaster/centos-binary-keystone/\(name)"))
            XCTAssertEqual(imageServe.inode("v2/tripleomaster/centos-binary-nova-compute/\(name)"), inode)
        }
        XCTAssertTrue(first.stderr.contains("copied  \(imageServe.address)/tripleomaster/centos-binary-nova-compute:1.0-test (0 blob(s) copied, 2 hard-linked"), first.stderr)
        // World-readable, and no temporary file left.
        let enumerator = FileManager.default.enumerator(atPath: imageServe.root.path)
        while let relative = enumerator?.nextObject() as? String {
            let attributes = try FileManager.default.attributesOfItem(atPath: imageServe.root.appendingPathComponent(relative).path)
            let mode = (attributes[.posixPermissions] as? Int ?? 0)
            XCTAssertEqual(mode & 0o755, attributes[.type] as? FileAttributeType == .typeDirectory ? 0o755 : 0o644, relative)
            XCTAssertFalse(relative.contains(".imageprep-") && relative.hasSuffix(".tmp"), relative)
        }

        // Pulled back through apache2: by imageprep's client and by skopeo, digest unchanged.
        let served = try Reference("\(imageServe.address)/tripleomaster/centos-binary-keystone:1.0-test")
        let pulled = try await client.resolveImage(served)
        XCTAssertEqual(pulled.raw.digest, sourceManifest.digest)
        XCTAssertEqual(pulled.raw.bytes, sourceManifest.bytes)
        let pulledConfig = try await client.fetchImageConfig(of: pulled, in: served)
        XCTAssertEqual(pulledConfig.labels["rdo_version"], "1.0-test")
        for layer in manifest.layers {
            let size = try await client.fetchBlob(served, descriptor: layer) { _ in }
            XCTAssertEqual(size, layer.size)
        }
        let copied = work.appendingPathComponent("skopeo")
        let skopeo = try CLI.runProcess(URL(fileURLWithPath: "/usr/bin/skopeo"), [
            "copy", "--src-tls-verify=false", "docker://\(imageServe.address)/tripleomaster/centos-binary-nova-compute:1.0-test",
            "dir:\(copied.path)",
        ])
        XCTAssertEqual(skopeo.status, 0, skopeo.stderr)
        XCTAssertEqual(Digest(of: try Data(contentsOf: copied.appendingPathComponent("manifest.json"))), sourceManifest.digest)

        let list = try CLI.run(["image", "list", "--registry", imageServe.address, "--insecure-registry", imageServe.address])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertEqual(list.stdout.split(separator: "\n").filter { $0.contains("/tripleomaster/") }.joined(separator: "\n") + "\n", """
            \(imageServe.address)/tripleomaster/centos-binary-keystone:1.0-test
            \(imageServe.address)/tripleomaster/centos-binary-nova-compute:1.0-test

            """)

        // A re-run writes nothing at all: every file keeps its inode and modification time.
        let before = imageServe.snapshot()
        let second = try CLI.run(arguments)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stderr.contains("skipped \(imageServe.address)/tripleomaster/centos-binary-keystone:1.0-test (already there"), second.stderr)
        XCTAssertEqual(imageServe.snapshot(), before)
    }

    /// A blob whose bytes do not match its digest never lands, and the tag is not made; two
    /// runs writing at once leave a consistent directory.
    func testBadBlobsNeverLandAndConcurrentRunsAgree() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.images.source, fixture.imageServe)
        let client = client(fixture)
        let insecure = ["--insecure-registry", source.address, "--insecure-registry", imageServe.address]
        let serveDir = ["--image-serve-dir", imageServe.root.path]

        // An image of its own at the source, whose layer the source's disk then corrupts.
        let broken = try Reference("\(source.address)/crash/broken:1")
        let layer = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
        let layerDescriptor = try await client.pushBlob(layer, mediaType: .dockerLayer, to: broken)
        let config = try await client.pushBlob(Data(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8),
                                               mediaType: .dockerConfig, to: broken)
        let bytes = try JSONEncoder().encode(Manifest(config: config, layers: [layerDescriptor]))
        try await client.pushManifest(bytes, mediaType: .dockerManifest, to: broken)
        try source.corruptBlob(layerDescriptor.digest.description)

        let failed = try CLI.run(["image", "copy", broken.description, "\(imageServe.address)/crash/broken:1"] + insecure + serveDir)
        XCTAssertEqual(failed.status, 1, failed.stdout)
        XCTAssertTrue(failed.stderr.contains(layerDescriptor.digest.description), failed.stderr)
        let repository = imageServe.root.appendingPathComponent("v2/crash/broken")
        XCTAssertFalse(FileManager.default.fileExists(atPath: repository.appendingPathComponent("manifests/1.type-map").path))
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: repository.appendingPathComponent("blobs").path)) ?? []
        XCTAssertFalse(blobs.contains { $0.contains(layerDescriptor.digest.encoded) }, "\(blobs)")
        XCTAssertFalse(blobs.contains { $0.hasPrefix(".imageprep-") }, "\(blobs)")
        let missing = try CLI.run(["image", "inspect", "\(imageServe.address)/crash/broken:1"] + insecure)
        XCTAssertEqual(missing.status, 1)

        // What a run killed mid-blob leaves: removed by a later run once its run is gone (an
        // older imageprep's, without a PID in its name, once a day old).
        let blobsDirectory = repository.appendingPathComponent("blobs")
        try FileManager.default.createDirectory(at: blobsDirectory, withIntermediateDirectories: true)
        let staleTemporary = blobsDirectory.appendingPathComponent(".imageprep-killed.tmp")
        let freshTemporary = blobsDirectory.appendingPathComponent(".imageprep-running.tmp")
        for file in [staleTemporary, freshTemporary] { try Data("partial".utf8).write(to: file) }
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-2 * 86400)], ofItemAtPath: staleTemporary.path)
        // Named for their runs: a dead run's goes at once, a live run's (this test's) stays.
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let deadRunTemporary = blobsDirectory.appendingPathComponent(".imageprep-\(dead.processIdentifier)-00000000000000aa.tmp")
        let liveRunTemporary = blobsDirectory.appendingPathComponent(".imageprep-\(getpid())-00000000000000bb.tmp")
        for file in [deadRunTemporary, liveRunTemporary] { try Data("partial".utf8).write(to: file) }

        // Two processes writing into the directory at once.
        let keystone = "\(source.address)/tripleomaster/centos-binary-keystone:current-tripleo"
        nonisolated(unsafe) var results: [CLI.Output?] = [nil, nil]
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let name = ["left", "right"][index]
            let output = try? CLI.run(["image", "copy", keystone, "\(imageServe.address)/concurrent/\(name):1"] + insecure + serveDir)
            lock.withLock { results[index] = output }
        }
        for result in results {
            XCTAssertEqual(result?.status, 0, result?.stderr ?? "did not run")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: staleTemporary.path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: freshTemporary.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: deadRunTemporary.path), "a dead run's temporary is removed by its PID")
        XCTAssertTrue(FileManager.default.fileExists(atPath: liveRunTemporary.path))
        try FileManager.default.removeItem(at: freshTemporary)
        try FileManager.default.removeItem(at: liveRunTemporary)
        let catalog = try String(contentsOf: imageServe.root.appendingPathComponent("v2/_catalog"), encoding: .utf8)
        XCTAssertTrue(catalog.contains("\"concurrent/left\"") && catalog.contains("\"concurrent/right\""), catalog)
        for name in ["left", "right"] {
            let pulled = try await client.resolveImage(try Reference("\(imageServe.address)/concurrent/\(name):1"))
            let original = try await client.resolveImage(try Reference(keystone))
            XCTAssertEqual(pulled.raw.digest, original.raw.digest)
        }
    }

    /// What tripleo-common's exporter leaves when it is killed (it writes `blobs/<digest>.gz`
    /// in place), and any other damaged blob or manifest: never counted as present, never
    /// hard-linked elsewhere, never a reason to skip a tag; replaced by the next run.
    func testDamagedBlobsAndManifestsAreReplacedNeverTrusted() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.images.source, fixture.imageServe)
        let client = client(fixture)
        let insecure = ["--insecure-registry", source.address, "--insecure-registry", imageServe.address]
        let serveDir = ["--image-serve-dir", imageServe.root.path]

        let image = try Reference("\(source.address)/damaged/app:1")
        let layer = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) })
        let layerDescriptor = try await client.pushBlob(layer, mediaType: .dockerLayer, to: image)
        let config = try await client.pushBlob(Data(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Labels":{"damaged":"1"}}}"#.utf8),
                                               mediaType: .dockerConfig, to: image)
        let manifestBytes = try JSONEncoder().encode(Manifest(config: config, layers: [layerDescriptor]))
        try await client.pushManifest(manifestBytes, mediaType: .dockerManifest, to: image)

        let v2 = imageServe.root.appendingPathComponent("v2")
        func blob(_ repository: String) -> URL { v2.appendingPathComponent("damaged/\(repository)/blobs/\(layerDescriptor.digest).gz") }
        func plant(_ data: Data, in repository: String) throws {
            try FileManager.default.createDirectory(at: blob(repository).deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: blob(repository))
        }
        // A killed export's half layer, and elsewhere a copy of the right size with one byte changed.
        try plant(layer.prefix(layer.count / 2), in: "truncated")
        var flipped = layer
        flipped[flipped.count - 1] ^= 0xff
        try plant(flipped, in: "flipped")

        func copy(_ tag: String) throws -> CLI.Output {
            try CLI.run(["image", "copy", image.description, "\(imageServe.address)/damaged/\(tag):1"] + insecure + serveDir)
        }
        func assertServedWhole(_ repository: String, file: StaticString = #filePath, line: UInt = #line) async throws {
            let served = try Reference("\(imageServe.address)/damaged/\(repository):1")
            let pulled = try await client.resolveImage(served)
            XCTAssertEqual(pulled.raw.digest, Digest(of: manifestBytes), file: file, line: line)
            for descriptor in [config, layerDescriptor] {
                let size = try await client.fetchBlob(served, descriptor: descriptor) { _ in }
                XCTAssertEqual(size, descriptor.size, file: file, line: line)
            }
        }

        let truncated = try copy("truncated")
        XCTAssertEqual(truncated.status, 0, truncated.stderr)
        XCTAssertFalse((truncated.stdout + truncated.stderr).contains("1 present"), truncated.stdout + truncated.stderr)
        try await assertServedWhole("truncated")
        // The damaged holder is never linked from: the whole copy is.
        let linked = try copy("linked")
        XCTAssertEqual(linked.status, 0, linked.stderr)
        XCTAssertEqual(imageServe.inode("v2/damaged/linked/blobs/\(layerDescriptor.digest).gz"),
                       imageServe.inode("v2/damaged/truncated/blobs/\(layerDescriptor.digest).gz"))
        try await assertServedWhole("linked")

        // Damaged after the tag was written (the layer cut short in place, the manifest
        // overwritten): the next run does not skip the tag, it repairs it.
        XCTAssertEqual(truncate(blob("truncated").path, off_t(layer.count - 10)), 0)
        let manifestFile = v2.appendingPathComponent("damaged/linked/manifests/\(Digest(of: manifestBytes))/index.json")
        try Data(repeating: 0x20, count: manifestBytes.count).write(to: manifestFile)
        for repository in ["truncated", "linked"] {
            let rerun = try copy(repository)
            XCTAssertEqual(rerun.status, 0, rerun.stderr)
            XCTAssertFalse((rerun.stdout + rerun.stderr).contains("skipped"), rerun.stdout + rerun.stderr)
            try await assertServedWhole(repository)
        }
        XCTAssertEqual(try Data(contentsOf: manifestFile), manifestBytes)
        // A whole image is still skipped.
        let whole = try copy("linked")
        XCTAssertTrue((whole.stdout + whole.stderr).contains("skipped"), whole.stdout + whole.stderr)
    }

    /// A full file system under image-serve is the directory's fault, not the source
    /// registry's: the error names the directory and the space the blob needs.
    func testAFullDiskNamesTheDirectoryAndTheSpaceNeeded() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.images.source, fixture.imageServe)
        let client = client(fixture)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let full = work.appendingPathComponent("full")
        try FileManager.default.createDirectory(at: full, withIntermediateDirectories: true)
        let mount = try CLI.runProcess(URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=1m", "tmpfs", full.path])
        try XCTSkipUnless(mount.status == 0, "cannot mount a tmpfs: \(mount.stderr)")
        defer { _ = try? CLI.runProcess(URL(fileURLWithPath: "/bin/umount"), [full.path]) }

        let image = try Reference("\(source.address)/full/app:1")
        var generator = SystemRandomNumberGenerator()
        let layer = Data((0..<2_000_000).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let layerDescriptor = try await client.pushBlob(layer, mediaType: .dockerLayer, to: image)
        let config = try await client.pushBlob(Data(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8),
                                               mediaType: .dockerConfig, to: image)
        try await client.pushManifest(try JSONEncoder().encode(Manifest(config: config, layers: [layerDescriptor])),
                                      mediaType: .dockerManifest, to: image)

        let result = try CLI.run([
            "image", "copy", image.description, "\(imageServe.address)/full/app:1", "--image-serve-dir", full.path,
            "--insecure-registry", source.address, "--insecure-registry", imageServe.address,
        ])
        XCTAssertEqual(result.status, 1, result.stdout)
        print("full disk: \(result.stderr)")
        let blobs = full.appendingPathComponent("v2/full/app/blobs")
        // The layer alone, or (when the config was in flight as the disk filled) every blob
        // still missing, largest first: either way the space named covers the layer.
        let alone = "image-serve directory: \(blobs.path): no space left on the device: blob \(layerDescriptor.digest) needs 2000000 bytes, "
        let both = "image-serve directory: \(blobs.path): no space left on the device: blobs \(layerDescriptor.digest) (2000000 bytes), "
            + "\(config.digest) (\(config.size) bytes) need \(2_000_000 + config.size) bytes, "
        XCTAssertTrue(result.stderr.contains(alone) || result.stderr.contains(both), result.stderr)
        XCTAssertTrue(result.stderr.contains("bytes are free; free at least "), result.stderr)
        XCTAssertFalse(result.stderr.contains("unexpected response"), result.stderr)
        XCTAssertFalse(result.stderr.contains(".imageprep-"), result.stderr)
        let left = try FileManager.default.contentsOfDirectory(atPath: blobs.path)
        XCTAssertFalse(left.contains { $0.hasPrefix(".imageprep-") || $0.contains(layerDescriptor.digest.encoded) }, "\(left)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: full.appendingPathComponent("v2/full/app/manifests/1.type-map").path))
    }

    /// A run killed between a tag's type map and the listings (`tags/list`, `_catalog`): the
    /// next run that finds the tag skips the copy and repairs the listings, so `image list`
    /// shows every tag again.
    func testListingsLostToAKillAreRepairedByTheNextRun() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.images.source, fixture.imageServe)
        let insecure = ["--insecure-registry", source.address, "--insecure-registry", imageServe.address]
        let keystone = "\(source.address)/tripleomaster/centos-binary-keystone:current-tripleo"
        func copy(_ name: String) throws -> CLI.Output {
            try CLI.run(["image", "copy", keystone, "\(imageServe.address)/listing/\(name):1", "--image-serve-dir", imageServe.root.path] + insecure)
        }
        XCTAssertEqual(try copy("first").status, 0)
        let v2 = imageServe.root.appendingPathComponent("v2")
        let catalogFile = v2.appendingPathComponent("_catalog")
        let catalogBefore = try String(contentsOf: catalogFile, encoding: .utf8)
        XCTAssertEqual(try copy("second").status, 0)
        let tagsList = v2.appendingPathComponent("listing/second/tags/list")
        let listed = try String(contentsOf: tagsList, encoding: .utf8)
        let catalog = try String(contentsOf: catalogFile, encoding: .utf8)
        XCTAssertTrue(catalog.contains(#""listing/second""#), catalog)

        // As a SIGKILL after the type map leaves it: no tags list, the catalog of before.
        try FileManager.default.removeItem(at: tagsList)
        try catalogBefore.write(to: catalogFile, atomically: true, encoding: .utf8)
        let rerun = try copy("second")
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertTrue((rerun.stdout + rerun.stderr).contains("skipped"), rerun.stdout + rerun.stderr)
        XCTAssertEqual(try String(contentsOf: tagsList, encoding: .utf8), listed)
        XCTAssertEqual(try String(contentsOf: catalogFile, encoding: .utf8), catalog)
        let list = try CLI.run(["image", "list", "--registry", imageServe.address] + insecure)
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("\(imageServe.address)/listing/second:1"), list.stdout)

        // Listings that are right are not written again.
        let before = imageServe.snapshot()
        XCTAssertEqual(try copy("second").status, 0)
        XCTAssertEqual(imageServe.snapshot(), before)
    }

    /// Symbolic links planted in the image-serve directory are never followed: a linked lock
    /// or directory of ours is refused, naming it; walks do not loop; `image delete` removes
    /// a link, never what it points at.
    func testPlantedLinksAreRefusedNeverFollowed() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.images.source, fixture.imageServe)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let serve = work.appendingPathComponent("serve")
        let outside = work.appendingPathComponent("outside")
        for directory in [serve.appendingPathComponent("v2"), outside] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        try Data("{}".utf8).write(to: serve.appendingPathComponent("v2/index.json"))
        try Data("keep\n".utf8).write(to: outside.appendingPathComponent("keep"))
        let secret = outside.appendingPathComponent("secret")
        try Data("secret\n".utf8).write(to: secret)
        chmod(secret.path, 0o600)
        func outsideIsUntouched(file: StaticString = #filePath, line: UInt = #line) throws {
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside.path).sorted(), ["keep", "secret"], file: file, line: line)
            var info = stat()
            XCTAssertEqual(stat(secret.path, &info), 0, file: file, line: line)
            XCTAssertEqual(info.st_mode & 0o777, 0o600, "never fchmod()ed through a link", file: file, line: line)
        }
        let insecure = ["--insecure-registry", source.address, "--insecure-registry", imageServe.address]
        let keystone = "\(source.address)/tripleomaster/centos-binary-keystone:current-tripleo"
        func copy(_ repository: String) throws -> CLI.Output {
            try CLI.run(["image", "copy", keystone, "\(imageServe.address)/\(repository):1", "--image-serve-dir", serve.path] + insecure)
        }
        let refusal = "is a symbolic link where imageprep keeps a directory or file of its own; nothing under the image-serve directory is reached through a link: remove it"

        // The run's lock is a link.
        let lock = serve.appendingPathComponent(".imageprep.lock")
        XCTAssertEqual(symlink(secret.path, lock.path), 0)
        let linkedLock = try copy("links/app")
        XCTAssertEqual(linkedLock.status, 1, linkedLock.stdout)
        XCTAssertTrue(linkedLock.stderr.contains("image-serve directory: \(lock.path): \(refusal)"), linkedLock.stderr)
        try outsideIsUntouched()
        unlink(lock.path)

        // A namespace directory is a link out of the directory.
        let namespace = serve.appendingPathComponent("v2/links")
        XCTAssertEqual(symlink(outside.path, namespace.path), 0)
        let linkedDirectory = try copy("links/app")
        XCTAssertEqual(linkedDirectory.status, 1, linkedDirectory.stdout)
        XCTAssertTrue(linkedDirectory.stderr.contains("image-serve directory: \(namespace.path): \(refusal)"), linkedDirectory.stderr)
        try outsideIsUntouched()
        unlink(namespace.path)

        // A loop: the catalog walk does not follow it.
        XCTAssertEqual(try copy("loop/app").status, 0)
        XCTAssertEqual(symlink(serve.appendingPathComponent("v2/loop").path, serve.appendingPathComponent("v2/loop/app/again").path), 0)
        XCTAssertEqual(try copy("loop/other").status, 0)
        let catalog = try String(contentsOf: serve.appendingPathComponent("v2/_catalog"), encoding: .utf8)
        XCTAssertEqual(catalog, #"{"repositories": ["loop/app", "loop/other"]}"#)

        // A repository's blobs directory replaced by a link out: delete removes the link only.
        XCTAssertEqual(try copy("links/victim").status, 0)
        let blobs = serve.appendingPathComponent("v2/links/victim/blobs")
        try FileManager.default.moveItem(at: blobs, to: work.appendingPathComponent("moved-blobs"))
        XCTAssertEqual(symlink(outside.path, blobs.path), 0)
        let deleted = try CLI.run(["image", "delete", "\(imageServe.address)/links/victim:1", "--image-serve-dir", serve.path] + insecure)
        XCTAssertEqual(deleted.status, 0, deleted.stderr)
        try outsideIsUntouched()
        XCTAssertFalse(FileManager.default.fileExists(atPath: serve.appendingPathComponent("v2/links").path))
    }

    /// `image copy`, `inspect` and `delete` against the image-serve address; delete as
    /// tripleo-common does: the tag, then what no other tag needs.
    func testImageCommandsAgainstImageServe() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.images.source, fixture.imageServe)
        let insecure = ["--insecure-registry", source.address, "--insecure-registry", imageServe.address]
        let serveDir = ["--image-serve-dir", imageServe.root.path]
        let keystone = "\(source.address)/tripleomaster/centos-binary-keystone:current-tripleo"
        let sourceDigest = try await client(fixture).fetchManifest(try Reference(keystone)).digest

        for tag in ["kept", "other"] {
            let copied = try CLI.run(["image", "copy", keystone, "\(imageServe.address)/copies/keystone:\(tag)"] + insecure + serveDir)
            XCTAssertEqual(copied.status, 0, copied.stderr)
            XCTAssertTrue(copied.stdout.hasPrefix("copied \(imageServe.address)/copies/keystone:\(tag) \(sourceDigest)"), copied.stdout)
            XCTAssertTrue(copied.stdout.contains("hard-linked"), copied.stdout)
        }
        // Without the directory httpd serves: one line saying what was found and what to give.
        let nowhere = try CLI.run(["image", "copy", keystone, "\(imageServe.address)/copies/keystone:kept"] + insecure
            + ["--image-serve-dir", "/nonexistent/image-serve"])
        XCTAssertEqual(nowhere.status, 1)
        XCTAssertEqual(nowhere.stderr, "Error: image-serve directory: /nonexistent/image-serve: \(imageServe.address) refuses uploads (HTTP 404), so it is taken for an image-serve registry, whose images go into this directory: no such directory (give the one its httpd serves with --image-serve-dir)\n")
        let again = try CLI.run(["image", "copy", keystone, "\(imageServe.address)/copies/keystone:kept"] + insecure + serveDir)
        XCTAssertTrue(again.stdout.hasPrefix("skipped "), again.stdout)

        let inspect = try CLI.run(["image", "inspect", "\(imageServe.address)/copies/keystone:kept"] + insecure)
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["digest"] as? String, sourceDigest.description)
        XCTAssertEqual((json["labels"] as? [String: String])?["rdo_version"], "1.0-test")

        let repository = imageServe.root.appendingPathComponent("v2/copies/keystone")
        let deleted = try CLI.run(["image", "delete", "\(imageServe.address)/copies/keystone:kept"] + insecure + serveDir)
        XCTAssertEqual(deleted.status, 0, deleted.stderr)
        XCTAssertEqual(deleted.stdout, "deleted \(imageServe.address)/copies/keystone:kept (\(sourceDigest))\n")
        XCTAssertEqual(try String(contentsOf: repository.appendingPathComponent("tags/list"), encoding: .utf8),
                       #"{"name": "copies/keystone", "tags": ["other"]}"#)
        XCTAssertTrue(FileManager.default.fileExists(atPath: repository.appendingPathComponent("manifests/\(sourceDigest)/index.json").path))
        // The other tag still names the manifest and its blobs.
        let other = try CLI.run(["image", "inspect", "\(imageServe.address)/copies/keystone:other"] + insecure)
        XCTAssertEqual(other.status, 0, other.stderr)
        let gone = try CLI.run(["image", "inspect", "\(imageServe.address)/copies/keystone:kept"] + insecure)
        XCTAssertEqual(gone.status, 1)

        let last = try CLI.run(["image", "delete", "\(imageServe.address)/copies/keystone:other"] + insecure + serveDir)
        XCTAssertEqual(last.status, 0, last.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: repository.deletingLastPathComponent().path), "the emptied namespace goes too")
        let catalog = try String(contentsOf: imageServe.root.appendingPathComponent("v2/_catalog"), encoding: .utf8)
        XCTAssertFalse(catalog.contains("copies/keystone"), catalog)
        let unknown = try CLI.run(["image", "delete", "\(imageServe.address)/copies/keystone:other"] + insecure + serveDir)
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("no such tag: copies/keystone:other"), unknown.stderr)
    }

    /// Modified images from both engines go to image-serve: an rpm_install built by buildah
    /// (one of its RPMs has a scriptlet) and a COPY-only Dockerfile applied by the layer engine;
    /// the base layers are hard links to the copies' (stored once) and the results read back
    /// with buildah.
    func testModifiedImagesFromBothEnginesAreWrittenAsImageServe() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe, buildah) = (fixture.images.source, fixture.imageServe, fixture.images.buildah)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let rpms = work.appendingPathComponent("rpms")
        try FileManager.default.createDirectory(at: rpms, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try RPMFixtures.build().new, toPath: rpms.appendingPathComponent("hotfix.rpm").path)
        let scripted = try RPMFixtures.withPostScriptlet(in: rpms)
        let custom = work.appendingPathComponent("custom")
        try FileManager.default.createDirectory(at: custom, withIntermediateDirectories: true)
        try Data("tuned\n".utf8).write(to: custom.appendingPathComponent("tuning.conf"))
        try Data("FROM placeholder\nCOPY tuning.conf /etc/keystone/\nLABEL com.example.change=tuned\n".utf8)
            .write(to: custom.appendingPathComponent("Dockerfile"))
        let template = work.appendingPathComponent("containers.yaml.j2")
        try """
            container_images_template:
            - imagename: "{{namespace}}/{{name_prefix}}keystone{{name_suffix}}:{{tag}}"
              params: [DockerKeystoneImage]
            - imagename: "{{namespace}}/{{name_prefix}}nova-compute{{name_suffix}}:{{tag}}"
              params: [DockerNovaComputeImage]
            """.write(to: template, atomically: true, encoding: .utf8)
        let env = work.appendingPathComponent("env.yaml")
        let set = "{namespace: \(source.address)/modified, name_prefix: centos-binary-, tag: current-tripleo}"
        try """
            parameter_defaults:
              DockerInsecureRegistryAddress: [\(source.address), \(imageServe.address)]
              ContainerImagePrepare:
              - push_destination: \(imageServe.address)
                includes: [nova-compute]
                set: \(set)
                modify_role: tripleo-modify-image
                modify_append_tag: -hotfix
                modify_vars: {tasks_from: rpm_install.yml, rpms_path: \(rpms.path)}
              - push_destination: \(imageServe.address)
                includes: [keystone]
                set: \(set)
                modify_role: tripleo-modify-image
                modify_append_tag: -tuned
                modify_vars: {tasks_from: modify_image.yml, modify_dir_path: \(custom.path)}
            """.write(to: env, atomically: true, encoding: .utf8)
        let arguments = [
            "prepare", "-e", env.path, "--template-file", template.path, "--image-serve-dir", imageServe.root.path,
            "--storage-driver", "vfs", "--isolation", "chroot", "--buildah-root", buildah.root, "--buildah-runroot", buildah.runRoot,
            "--work-dir", work.path, "--cache-dir", work.appendingPathComponent("cache").path,
        ]
        let requestsBefore = imageServe.requests().count
        let first = try CLI.run(arguments)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("built   \(imageServe.address)/modified/centos-binary-nova-compute:current-tripleo-hotfix (rpm_install.yml, buildah (\(URL(fileURLWithPath: scripted).lastPathComponent) has a %post scriptlet, which only rpm in the image can run), "), first.stderr)
        XCTAssertTrue(first.stderr.contains("built   \(imageServe.address)/modified/centos-binary-keystone:current-tripleo-tuned (modify_image.yml, layer engine, 1 layer of"), first.stderr)
        XCTAssertTrue(first.stderr.contains("\(imageServe.address) is an image-serve registry"), first.stderr)
        XCTAssertFalse(imageServe.requests().dropFirst(requestsBefore).contains { $0.hasPrefix("PUT ") || $0.hasPrefix("PATCH ") })

        // The base layer is the source's blob, stored once across the repositories.
        let client = client(fixture)
        let base = try await client.resolveImage(try Reference("\(source.address)/modified/centos-binary-keystone:current-tripleo"))
        let baseLayer = try XCTUnwrap(base.manifest.layers.first)
        let repositories = ["centos-binary-keystone", "centos-binary-nova-compute"]
        let inodes = Set(repositories.compactMap { imageServe.inode("v2/modified/\($0)/blobs/\(baseLayer.digest).gz") })
        XCTAssertEqual(inodes.count, 1, "\(inodes)")

        for (image, check) in [
            ("centos-binary-nova-compute:current-tripleo-hotfix", ["rpm", "-q", "hotfix"]),
            ("centos-binary-keystone:current-tripleo-tuned", ["cat", "/etc/keystone/tuning.conf"]),
        ] {
            let served = "\(imageServe.address)/modified/\(image)"
            let resolved = try await client.resolveImage(try Reference(served))
            XCTAssertEqual(resolved.manifest.layers.first?.digest, baseLayer.digest, image)
            try buildah.buildah(["pull", "--tls-verify=false", served])
            let output = try buildah.run(in: served, check).trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(output, image.contains("hotfix") ? "hotfix-1.1-2.noarch" : "tuned", image)
        }

        // A re-run builds nothing and writes nothing.
        let before = imageServe.snapshot()
        let second = try CLI.run(arguments)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stderr.contains("skipped \(imageServe.address)/modified/centos-binary-nova-compute:current-tripleo-hotfix (already modified)"), second.stderr)
        XCTAssertEqual(imageServe.snapshot(), before)
    }

    /// With `AdditionalArchitectures` a manifest list goes to image-serve with every
    /// platform's image; its type map offers the list and the amd64 image, as upstream's.
    func testManifestListsWithAdditionalArchitectures() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.images.source, fixture.imageServe)
        let client = client(fixture)
        let repository = try Reference("\(source.address)/multi/centos-binary-keystone:current-tripleo")
        var entries: [Descriptor] = []
        for architecture in ["amd64", "arm64"] {
            let layer = try await client.pushBlob(Data("layer for \(architecture)".utf8), mediaType: .dockerLayer, to: repository)
            let configData = Data(#"{"architecture":"\#(architecture)","os":"linux","config":{"Labels":{"rdo_version":"2.0-multi"}},"rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
            let config = try await client.pushBlob(configData, mediaType: .dockerConfig, to: repository)
            let bytes = try JSONEncoder().encode(Manifest(config: config, layers: [layer]))
            let digest = try await client.pushManifest(bytes, mediaType: .dockerManifest, to: repository.withDigest(Digest(of: bytes)))
            entries.append(Descriptor(mediaType: .dockerManifest, digest: digest, size: Int64(bytes.count),
                                      platform: Platform(os: "linux", architecture: architecture)))
        }
        let listBytes = try JSONEncoder().encode(Index(manifests: entries))
        let listDigest = try await client.pushManifest(listBytes, mediaType: .dockerManifestList, to: repository)
        // The versioned tag the label names exists at the source too, as a real catalog has it.
        try await client.pushManifest(listBytes, mediaType: .dockerManifestList,
                                      to: try Reference("\(source.address)/multi/centos-binary-keystone:2.0-multi"))

        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let template = work.appendingPathComponent("containers.yaml.j2")
        try """
            container_images_template:
            - imagename: "{{namespace}}/{{name_prefix}}keystone{{name_suffix}}:{{tag}}"
              params: [DockerKeystoneImage]
            """.write(to: template, atomically: true, encoding: .utf8)
        let env = work.appendingPathComponent("env.yaml")
        try """
            parameter_defaults:
              AdditionalArchitectures: [arm64]
              DockerInsecureRegistryAddress: [\(source.address), \(imageServe.address)]
              ContainerImagePrepare:
              - push_destination: \(imageServe.address)
                tag_from_label: rdo_version
                set: {namespace: \(source.address)/multi, name_prefix: centos-binary-, tag: current-tripleo}
            """.write(to: env, atomically: true, encoding: .utf8)
        let arguments = ["prepare", "-e", env.path, "--template-file", template.path, "--image-serve-dir", imageServe.root.path,
                         "--cache-dir", work.appendingPathComponent("cache").path]
        let first = try CLI.run(arguments)
        XCTAssertEqual(first.status, 0, first.stderr)

        let manifests = imageServe.root.appendingPathComponent("v2/multi/centos-binary-keystone/manifests")
        XCTAssertEqual(try String(contentsOf: manifests.appendingPathComponent("2.0-multi.type-map"), encoding: .utf8), """
            URI: 2.0-multi

            Content-Type: \(MediaType.dockerManifestList); qs=1
            URI: \(listDigest)/index.json

            Content-Type: \(MediaType.dockerManifest); qs=0.5
            URI: \(entries[0].digest)/index.json


            """)
        XCTAssertEqual(try Data(contentsOf: manifests.appendingPathComponent("\(listDigest)/index.json")), listBytes)
        for entry in entries {
            XCTAssertTrue(FileManager.default.fileExists(atPath: manifests.appendingPathComponent("\(entry.digest)/index.json").path))
        }
        // Read back through httpd: the arm64 image by way of the list.
        let served = try Reference("\(imageServe.address)/multi/centos-binary-keystone:2.0-multi")
        let arm = try await client.resolveImage(served, platform: Platform(os: "linux", architecture: "arm64"))
        XCTAssertEqual(arm.raw.digest, entries[1].digest)
        let amd = try await client.resolveImage(served)
        XCTAssertEqual(amd.raw.digest, entries[0].digest)
        let skopeo = try CLI.runProcess(URL(fileURLWithPath: "/usr/bin/skopeo"), [
            "inspect", "--raw", "--tls-verify=false", "docker://\(served)",
        ])
        XCTAssertEqual(skopeo.status, 0, skopeo.stderr)
        XCTAssertEqual(Digest(of: Data(skopeo.stdout.utf8)), listDigest)
        do {
            let python = try UpstreamVenv.python()
            // tripleo-common's parser reads the qs parameters as part of the type.
            let parsed = try Self.upstream(python, ["parse", "multi/centos-binary-keystone"], directory: imageServe.root)
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(parsed.utf8)) as? [String: Any], parsed)
            XCTAssertEqual(json["type_maps"] as? [String: [String: String]], ["2.0-multi": [
                "\(MediaType.dockerManifestList); qs=1": "\(listDigest)/index.json",
                "\(MediaType.dockerManifest); qs=0.5": "\(entries[0].digest)/index.json",
            ]], parsed)
            XCTAssertEqual(json["tags_list_matches"] as? Bool, true, parsed)
        }

        let before = imageServe.snapshot()
        let second = try CLI.run(arguments)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(imageServe.snapshot(), before)
    }

    /// Both ways with tripleo-common 18.0.0's own code (scripts/upstream-venv): imageprep
    /// re-runs over, lists and deletes what upstream's exporter wrote, and upstream parses the
    /// type maps and tags lists imageprep writes and deletes its tags.
    func testCompatibilityWithTripleoCommonBothWays() async throws {
        let python = try UpstreamVenv.python()
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.images.source, fixture.imageServe)
        let client = client(fixture)
        let insecure = ["--insecure-registry", source.address, "--insecure-registry", imageServe.address]
        let serveDir = ["--image-serve-dir", imageServe.root.path]
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        func upstream(_ arguments: [String]) throws -> String {
            try Self.upstream(python, arguments, directory: imageServe.root)
        }

        // One image at the source, exported by upstream under the same name.
        let image = try Reference("\(source.address)/upstream/centos-binary-heat-api:1")
        let layerData = Data((0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        let layer = try await client.pushBlob(layerData, mediaType: .dockerLayer, to: image)
        let configData = Data(#"{"architecture":"amd64","os":"linux","config":{"Labels":{"rdo_version":"1"}},"rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
        let config = try await client.pushBlob(configData, mediaType: .dockerConfig, to: image)
        let manifestBytes = try JSONEncoder().encode(Manifest(config: config, layers: [layer]))
        let sourceDigest = try await client.pushManifest(manifestBytes, mediaType: .dockerManifest, to: image)
        let files = work.appendingPathComponent("upstream")
        try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
        try manifestBytes.write(to: files.appendingPathComponent("manifest.json"))
        try configData.write(to: files.appendingPathComponent("config.json"))
        try layerData.write(to: files.appendingPathComponent("layer"))
        _ = try upstream(["export", "upstream/centos-binary-heat-api", "1"] + ["manifest.json", "config.json", "layer"].map { files.appendingPathComponent($0).path })

        // imageprep reads upstream's export through httpd (upstream re-serialised the manifest).
        let served = "\(imageServe.address)/upstream/centos-binary-heat-api:1"
        let before = try CLI.run(["image", "inspect", served] + insecure)
        XCTAssertEqual(before.status, 0, before.stderr)
        let upstreamDigest = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [String: Any])?["digest"] as? String)
        XCTAssertNotEqual(upstreamDigest, sourceDigest.description)
        // A copy over it reuses upstream's blobs and puts the source's manifest byte for byte.
        let copied = try CLI.run(["image", "copy", image.description, served] + insecure + serveDir)
        XCTAssertEqual(copied.status, 0, copied.stderr)
        XCTAssertEqual(copied.stdout, "copied \(served) \(sourceDigest) (0 blob(s) copied, 0 hard-linked, 2 present, 0 bytes)\n")
        let after = try await client.fetchManifest(try Reference(served))
        XCTAssertEqual(after.digest, sourceDigest)

        // Upstream parses what imageprep wrote: its type map and its tags list.
        let compat = "\(imageServe.address)/compat/centos-binary-heat-api:2"
        XCTAssertEqual(try CLI.run(["image", "copy", image.description, compat] + insecure + serveDir).status, 0)
        for repository in ["upstream/centos-binary-heat-api", "compat/centos-binary-heat-api"] {
            let parsed = try upstream(["parse", repository])
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(parsed.utf8)) as? [String: Any], parsed)
            XCTAssertEqual(json["tags_list_matches"] as? Bool, true, parsed)
            let maps = try XCTUnwrap(json["type_maps"] as? [String: [String: String]], parsed)
            XCTAssertEqual(maps.values.first, [MediaType.dockerManifest.rawValue: "\(sourceDigest)/index.json"], parsed)
        }
        // Upstream deletes imageprep's tag; imageprep deletes the tag over upstream's export,
        // with upstream's now unnamed manifest.
        _ = try upstream(["delete", "compat/centos-binary-heat-api", "2"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: imageServe.root.appendingPathComponent("v2/compat/centos-binary-heat-api").path))
        let deleted = try CLI.run(["image", "delete", served] + insecure + serveDir)
        XCTAssertEqual(deleted.status, 0, deleted.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: imageServe.root.appendingPathComponent("v2/upstream").path))
        let list = try CLI.run(["image", "list", "--registry", imageServe.address] + insecure)
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertFalse(list.stdout.contains("heat-api"), list.stdout)
    }
}
