import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// `bundle create` from a real docker-registry (images built in code: a base layer shared by
/// two images, one layer each, labels for `tag_from_label`), the bundle read by skopeo, moved,
/// loaded into Debian's real apache2 image-serve and a second docker-registry with the source
/// registry stopped, and `prepare` run against what was loaded; damaged and hostile bundles
/// refused before anything is placed.
final class BundleTests: XCTestCase {
    /// Started on the main thread (see ImageServeFixture).
    nonisolated(unsafe) static var fixture: Result<ImageServeFixture, any Error>?

    override class func setUp() {
        fixture = Result { try ImageServeFixture() }
    }

    override class func tearDown() {
        (try? fixture?.get())?.stop()
    }

    static let services = ["keystone", "nova-compute"]
    /// The label `tag_from_label: rdo_version` reads, and the tag it names.
    static let versionTag = "1.0-7"

    static func layer(_ seed: String) -> Data {
        ImageServeFixture.layer(seed, size: 96 * 1024)
    }

    /// Pushes `tripleomaster/centos-binary-SERVICE` as `current` and `1.0-7` (the base layer
    /// and one of its own, labelled `rdo_version: 1.0-7`) for each service; idempotent.
    @discardableResult
    static func seed(_ source: RegistryServer, namespace: String = "tripleomaster") async throws -> [String: (digest: Digest, manifest: Manifest)] {
        let client = RegistryClient(configuration: RegistryClient.Configuration(insecureRegistries: [source.address]))
        var pushed: [String: (Digest, Manifest)] = [:]
        for service in services {
            let repository = Reference(registry: source.address, repository: "\(namespace)/centos-binary-\(service)", tag: "current")
            let layers = [
                try await client.pushBlob(layer("base"), mediaType: .dockerLayer, to: repository),
                try await client.pushBlob(layer(service), mediaType: .dockerLayer, to: repository),
            ]
            let config = Data(#"{"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z","config":{"Labels":{"rdo_version":"\#(versionTag)","service":"\#(service)"}},"rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
            let configDescriptor = try await client.pushBlob(config, mediaType: .dockerConfig, to: repository)
            let manifest = Manifest(mediaType: .dockerManifest, config: configDescriptor, layers: layers)
            let bytes = try JSONEncoder().encode(manifest)
            let digest = try await client.pushManifest(bytes, mediaType: .dockerManifest, to: repository)
            try await client.pushManifest(bytes, mediaType: .dockerManifest, to: repository.withTag(versionTag))
            pushed[service] = (digest, manifest)
        }
        return pushed
    }

    static func template(in directory: URL, services: [String] = services) throws -> String {
        let file = directory.appendingPathComponent("containers-\(services.count).yaml.j2")
        var text = "container_images_template:\n"
        for service in services {
            let parameter = "Docker" + service.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined() + "Image"
            text += "- imagename: \"{{namespace}}/{{name_prefix}}\(service){{name_suffix}}:{{tag}}\"\n  params: [\(parameter)]\n"
        }
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// The env of the connected host's prepare: from `namespace`, tags from labels, copied
    /// to `pushDestination`.
    static func env(namespace: String, pushDestination: String?, insecure: [String], in directory: URL, name: String,
                    repositories: String = "tripleomaster") throws -> String {
        let file = directory.appendingPathComponent(name)
        try """
            parameter_defaults:
              DockerInsecureRegistryAddress: [\(insecure.joined(separator: ", "))]
              ContainerImagePrepare:
              - tag_from_label: rdo_version
            \(pushDestination.map { "    push_destination: \"\($0)\"\n" } ?? "")    set: {namespace: \(namespace)/\(repositories), name_prefix: centos-binary-, tag: current}
            """.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// The names of the index's images (`views`: of their OCI copies instead).
    static func refNames(_ layout: URL, views: Bool = false) throws -> [String] {
        let index = try JSONDecoder().decode(Index.self, from: try Data(contentsOf: layout.appendingPathComponent("index.json")))
        return index.manifests.filter { ($0.annotations?[ImageBundle.ociViewAnnotation] != nil) == views }
            .compactMap { $0.annotations?[ImageBundle.refNameAnnotation] }.sorted()
    }

    func testABundleOfAnEnvHoldsWhatItsPrepareCopiesEachBlobOnceAndSkopeoReadsIt() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.source, fixture.imageServe)
        let pushed = try await Self.seed(source)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let env = try Self.env(namespace: source.address, pushDestination: imageServe.address, insecure: [source.address, imageServe.address],
                               in: work, name: "containers-prepare-parameter.yaml")
        let made = work.appendingPathComponent("made")
        let created = try CLI.run(["bundle", "create", "-e", env, "--template-file", try Self.template(in: work), "--output", made.path, "--no-cache"])
        XCTAssertEqual(created.status, 0, created.stderr)
        // Each image under the env's name and the one its label gives.
        var expected: [String] = []
        for service in Self.services {
            for tag in ["current", Self.versionTag] { expected.append("\(source.address)/tripleomaster/centos-binary-\(service):\(tag)") }
        }
        XCTAssertEqual(try Self.refNames(made), expected.sorted())
        XCTAssertEqual(try Self.refNames(made, views: true), expected.sorted())
        XCTAssertTrue(created.stdout.contains("bundled \(source.address)/tripleomaster/centos-binary-keystone:\(Self.versionTag) \(pushed["keystone"]!.digest)"), created.stdout)
        // The base layer once: two configs, three layers fetched; two manifests and their
        // OCI copies (for skopeo) beside them.
        XCTAssertTrue(created.stdout.contains(": 4 image(s), 5 blob(s) written"), created.stdout)
        XCTAssertTrue(created.stdout.contains(", 1 shared"), created.stdout)
        let blobs = try FileManager.default.contentsOfDirectory(atPath: made.appendingPathComponent("blobs/sha256").path)
        XCTAssertEqual(blobs.count, 9, "\(blobs)")
        // Read-only at the sources: nothing written at the push destination.
        XCTAssertFalse(FileManager.default.fileExists(atPath: imageServe.root.appendingPathComponent("v2/tripleomaster").path))

        // skopeo reads the bundle by the full source reference.
        let keystone = "\(source.address)/tripleomaster/centos-binary-keystone:\(Self.versionTag)"
        let out = work.appendingPathComponent("skopeo-dir")
        let skopeo = try CLI.runProcess(URL(fileURLWithPath: "/usr/bin/skopeo"), ["copy", "oci:\(made.path):\(keystone)", "dir:\(out.path)"])
        XCTAssertEqual(skopeo.status, 0, skopeo.stderr)
        // skopeo's oci: lists only OCI manifests: it reads the OCI copy, the same config and layers.
        let read = try JSONDecoder().decode(Manifest.self, from: try Data(contentsOf: out.appendingPathComponent("manifest.json")))
        XCTAssertEqual(read.mediaType, .ociManifest)
        XCTAssertEqual(read.blobs.map(\.digest), pushed["keystone"]!.manifest.blobs.map(\.digest))
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent(pushed["keystone"]!.manifest.layers[1].digest.encoded)), Self.layer("keystone"))
    }

    func testATarBundleMovedLoadsIntoImageServeAndARegistryAndPreparesWithTheSourceStopped() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe, registry) = (fixture.source, fixture.imageServe, fixture.registry)
        let pushed = try await Self.seed(source)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let template = try Self.template(in: work)
        let env = try Self.env(namespace: source.address, pushDestination: imageServe.address, insecure: [source.address, imageServe.address],
                               in: work, name: "containers-prepare-parameter.yaml")
        let made = work.appendingPathComponent("made")
        try FileManager.default.createDirectory(at: made, withIntermediateDirectories: true)
        let tar = made.appendingPathComponent("bundle.tar")
        let created = try CLI.run(["bundle", "create", "-e", env, "--template-file", template, "--output", tar.path, "--no-cache"])
        XCTAssertEqual(created.status, 0, created.stderr)
        // One file: the layout it was made from and the temporary tar are gone.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: made.path), ["bundle.tar"])
        let keystone = "\(source.address)/tripleomaster/centos-binary-keystone:\(Self.versionTag)"
        let out = work.appendingPathComponent("skopeo-dir")
        let skopeo = try CLI.runProcess(URL(fileURLWithPath: "/usr/bin/skopeo"), ["copy", "oci-archive:\(tar.path):\(keystone)", "dir:\(out.path)"])
        XCTAssertEqual(skopeo.status, 0, skopeo.stderr)

        let moved = work.appendingPathComponent("moved/bundle.tar")
        try FileManager.default.createDirectory(at: moved.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: tar, to: moved)

        // Source gone: everything from here on comes from the bundle.
        source.kill()
        defer { XCTAssertNoThrow(try source.restart()) }
        let loaded = try CLI.run(["bundle", "load", moved.path, "--to", imageServe.address, "--image-serve-dir", imageServe.root.path,
                                  "--insecure-registry", imageServe.address])
        XCTAssertEqual(loaded.status, 0, loaded.stderr)
        let keystoneDigest = pushed["keystone"]!.digest
        XCTAssertTrue(loaded.stdout.contains("loaded \(imageServe.address)/tripleomaster/centos-binary-keystone:\(Self.versionTag) \(keystoneDigest)"), loaded.stdout)
        // nova's base layer is keystone's: hard-linked, not written twice.
        XCTAssertTrue(loaded.stdout.contains("1 hard-linked"), loaded.stdout)
        let served = imageServe.root.appendingPathComponent("v2/tripleomaster/centos-binary-keystone/manifests/\(keystoneDigest)/index.json")
        XCTAssertEqual(Digest(of: try Data(contentsOf: served)), keystoneDigest)

        let intoRegistry = try CLI.run(["bundle", "load", moved.path, "--to", registry.address, "--insecure-registry", registry.address])
        XCTAssertEqual(intoRegistry.status, 0, intoRegistry.stderr)
        let client = RegistryClient(configuration: RegistryClient.Configuration(insecureRegistries: [registry.address]))
        let inRegistry = try await client.fetchManifest(Reference(registry: registry.address, repository: "tripleomaster/centos-binary-nova-compute", tag: "current"))
        XCTAssertEqual(inRegistry.digest, pushed["nova-compute"]!.digest)

        // The undercloud's prepare: its images at image-serve, tags from labels read there.
        let undercloud = try Self.env(namespace: imageServe.address, pushDestination: nil, insecure: [imageServe.address], in: work, name: "undercloud.yaml")
        let prepared = try CLI.run(["prepare", "-e", undercloud, "--template-file", template, "--image-serve-dir", imageServe.root.path, "--no-cache"])
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        XCTAssertTrue(prepared.stdout.contains("DockerKeystoneImage: \(imageServe.address)/tripleomaster/centos-binary-keystone:\(Self.versionTag)"), prepared.stdout)
        XCTAssertTrue(prepared.stdout.contains("DockerNovaComputeImage: \(imageServe.address)/tripleomaster/centos-binary-nova-compute:\(Self.versionTag)"), prepared.stdout)
    }

    func testADamagedBlobIsRefusedNamingItsFileAndNothingIsPlaced() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.source, fixture.imageServe)
        let pushed = try await Self.seed(source)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let keystone = "\(source.address)/tripleomaster/centos-binary-keystone:current"
        let made = work.appendingPathComponent("made")
        let created = try CLI.run(["bundle", "create", keystone, "--output", made.path, "--insecure-registry", source.address])
        XCTAssertEqual(created.status, 0, created.stderr)
        let layer = try XCTUnwrap(pushed["keystone"]?.manifest.layers.last)
        let file = "blobs/sha256/\(layer.digest.encoded)"
        let empty = work.appendingPathComponent("image-serve")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        func load(_ bundle: URL) throws -> CLI.Output {
            try CLI.run(["bundle", "load", bundle.path, "--to", imageServe.address, "--image-serve-dir", empty.path,
                         "--insecure-registry", imageServe.address])
        }
        func assertRefused(_ output: CLI.Output, _ words: [String], line: UInt = #line) throws {
            XCTAssertEqual(output.status, 1, output.stderr, line: line)
            XCTAssertEqual(output.stderr.split(separator: "\n").count, 1, output.stderr, line: line)
            for word in words { XCTAssertTrue(output.stderr.contains(word), "\(word) not in \(output.stderr)", line: line) }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: empty.path), [], line: line)
        }

        // A directory bundle: a layer's bytes changed, its size kept.
        let damaged = work.appendingPathComponent("damaged")
        try FileManager.default.copyItem(at: made, to: damaged)
        var bytes = try Data(contentsOf: damaged.appendingPathComponent(file))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: damaged.appendingPathComponent(file))
        try assertRefused(try load(damaged), ["bundle \(damaged.path): \(file) (of \(keystone)) is damaged", "nothing was loaded"])

        // The same in a tar bundle: refused as it is extracted.
        let tar = work.appendingPathComponent("bundle.tar")
        XCTAssertEqual(try CLI.run(["bundle", "create", keystone, "--output", tar.path, "--insecure-registry", source.address]).status, 0)
        var archive = try Data(contentsOf: tar)
        let start = try XCTUnwrap(archive.range(of: Self.layer("keystone").prefix(4096))).lowerBound
        archive[start + 100] ^= 0xFF
        try archive.write(to: tar)
        try assertRefused(try load(tar), ["bundle \(tar.path): \(file) is damaged: its bytes have digest sha256:"])

        // A missing blob.
        try FileManager.default.removeItem(at: damaged.appendingPathComponent(file))
        try assertRefused(try load(damaged), ["\(file) (blob \(layer.digest) of \(keystone)) is missing"])
    }

    func testATarEntryOutsideTheLayoutIsRefusedAndNotWritten() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let tar = work.appendingPathComponent("hostile/bundle.tar")
        try FileManager.default.createDirectory(at: tar.deletingLastPathComponent(), withIntermediateDirectories: true)
        // `../escape` beside the directory it would be extracted to.
        let script = """
            import io, sys, tarfile
            with tarfile.open(sys.argv[1], "w", format=tarfile.USTAR_FORMAT) as t:
                for name, data in [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("../escape", b"x" * 10)]:
                    info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
            """
        let made = try CLI.runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, tar.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        let loaded = try CLI.run(["bundle", "load", tar.path, "--to", fixture.imageServe.address, "--image-serve-dir", work.path,
                                  "--insecure-registry", fixture.imageServe.address], environment: ["TMPDIR": work.appendingPathComponent("hostile").path])
        XCTAssertEqual(loaded.status, 1, loaded.stderr)
        XCTAssertEqual(loaded.stdout, "")
        XCTAssertTrue(loaded.stderr.contains("bundle \(tar.path): entry ../escape is not part of an OCI image layout"), loaded.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("hostile/escape").path))
        // The extraction directory is gone too.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tar.deletingLastPathComponent().path), ["bundle.tar"])
    }

    func testPrepareFromABundleCopiesToImageServeWithTheSourceStopped() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, imageServe) = (fixture.source, fixture.imageServe)
        let pushed = try await Self.seed(source, namespace: "offline")
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let template = try Self.template(in: work)
        // The same env on both hosts: from the source registry, copied to image-serve.
        let env = try Self.env(namespace: source.address, pushDestination: imageServe.address, insecure: [source.address, imageServe.address],
                               in: work, name: "containers-prepare-parameter.yaml", repositories: "offline")
        let tar = work.appendingPathComponent("bundle.tar")
        let created = try CLI.run(["bundle", "create", "-e", env, "--template-file", template, "--output", tar.path, "--no-cache"])
        XCTAssertEqual(created.status, 0, created.stderr)

        source.kill()
        defer { XCTAssertNoThrow(try source.restart()) }
        let prepared = try CLI.run(["prepare", "-e", env, "--template-file", template, "--from-bundle", tar.path,
                                    "--image-serve-dir", imageServe.root.path, "--no-cache", "--progress", "none"])
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        for service in Self.services {
            let parameter = service == "keystone" ? "DockerKeystoneImage" : "DockerNovaComputeImage"
            XCTAssertTrue(prepared.stdout.contains("\(parameter): \(imageServe.address)/offline/centos-binary-\(service):\(Self.versionTag)"), prepared.stdout)
            let digest = pushed[service]!.digest
            let served = imageServe.root.appendingPathComponent("v2/offline/centos-binary-\(service)/manifests/\(digest)/index.json")
            XCTAssertEqual(Digest(of: try Data(contentsOf: served)), digest, service)
        }
        // Served by httpd under the discovered tag.
        let client = RegistryClient(configuration: RegistryClient.Configuration(insecureRegistries: [imageServe.address]))
        let fetched = try await client.fetchManifest(Reference(registry: imageServe.address, repository: "offline/centos-binary-keystone", tag: Self.versionTag))
        XCTAssertEqual(fetched.digest, pushed["keystone"]!.digest)

        // An image the bundle does not hold fails, naming it; the others are not enough.
        let more = try Self.template(in: work, services: Self.services + ["glance-api"])
        let missing = try CLI.run(["prepare", "-e", env, "--template-file", more, "--from-bundle", tar.path,
                                   "--image-serve-dir", imageServe.root.path, "--no-cache", "--progress", "none"])
        XCTAssertEqual(missing.status, 1, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("bundle \(tar.path) has no \(source.address)/offline/centos-binary-glance-api:current"), missing.stderr)

        // A directory bundle made from references alone lacks the tags the labels give:
        // discovery checks them against the bundle's index, as it checks a registry's tags.
        try source.restart()
        let tagless = work.appendingPathComponent("tagless")
        let byReference = try CLI.run(["bundle", "create", "\(source.address)/offline/centos-binary-keystone:current",
                                       "\(source.address)/offline/centos-binary-nova-compute:current", "--output", tagless.path,
                                       "--insecure-registry", source.address])
        XCTAssertEqual(byReference.status, 0, byReference.stderr)
        source.kill()
        let untagged = try CLI.run(["prepare", "-e", env, "--template-file", template, "--from-bundle", tagless.path,
                                    "--image-serve-dir", imageServe.root.path, "--no-cache", "--progress", "none"])
        XCTAssertEqual(untagged.status, 1, untagged.stderr)
        XCTAssertTrue(untagged.stderr.contains("image \(source.address)/offline/centos-binary-keystone has no tag \(Self.versionTag) (from tag_from_label rdo_version); available tags: current"), untagged.stderr)
    }

    /// The disconnected undercloud itself: in a network namespace of its own (only its own
    /// loopback, where the source registry does not exist), apache2 serves a fresh
    /// image-serve directory, the moved tar bundle is loaded into it and `prepare` runs
    /// against the bundle, with the same env the connected host used.
    func testABundleLoadsAndPreparesInANetworkNamespaceWithNoNetwork() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let source = fixture.source
        let pushed = try await Self.seed(source, namespace: "netns")
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let template = try Self.template(in: work)
        // Inside the namespace the undercloud's image-serve listens on its own 127.0.0.1:5999.
        let undercloud = "127.0.0.1:5999"
        let env = try Self.env(namespace: source.address, pushDestination: undercloud, insecure: [source.address, undercloud],
                               in: work, name: "containers-prepare-parameter.yaml", repositories: "netns")
        let made = work.appendingPathComponent("made.tar")
        let created = try CLI.run(["bundle", "create", "-e", env, "--template-file", template, "--output", made.path, "--no-cache"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let moved = work.appendingPathComponent("moved/bundle.tar")
        try FileManager.default.createDirectory(at: moved.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: made, to: moved)

        let root = work.appendingPathComponent("image-serve")
        let script = """
            set -eu
            ip link set lo up
            if curl -s -m 2 -o /dev/null "http://\(source.address)/v2/"; then echo "the source is reachable" >&2; exit 9; fi
            free_port() { echo 5999; }
            pids=()
            # httpd and its workers, whatever signals the test's thread blocks ([h]: not this script).
            trap 'pkill -KILL -f "\(work.path)/apache/[h]ttpd.conf" || true' EXIT
            . scripts/lib/image-serve.sh
            start_image_serve "\(root.path)" "\(work.path)/apache"
            "$IMAGEPREP" bundle load "\(moved.path)" --to \(undercloud) --image-serve-dir "\(root.path)" --insecure-registry \(undercloud)
            "$IMAGEPREP" prepare -e "\(env)" --template-file "\(template)" --from-bundle "\(moved.path)" \\
              --image-serve-dir "\(root.path)" --no-cache --progress none --output-env-file "\(work.path)/deployed-env.yaml"
            curl -s -f -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \\
              "http://\(undercloud)/v2/netns/centos-binary-keystone/manifests/\(Self.versionTag)" | sha256sum
            """
        let run = try CLI.runProcess(
            URL(fileURLWithPath: "/usr/bin/unshare"), ["--net", "/bin/bash", "-c", script], in: CLI.packageRoot,
            environment: ["IMAGEPREP": CLI.binary.path])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("loaded ") == true, run.stdout)
        XCTAssertEqual(lines.last, "\(pushed["keystone"]!.digest.encoded)  -", "httpd serves the source's manifest under the discovered tag")
        let deployed = (try? String(contentsOf: work.appendingPathComponent("deployed-env.yaml"), encoding: .utf8)) ?? ""
        XCTAssertTrue(deployed.contains("DockerKeystoneImage: \(undercloud)/netns/centos-binary-keystone:\(Self.versionTag)"), deployed)
        XCTAssertTrue(deployed.contains("DockerNovaComputeImage: \(undercloud)/netns/centos-binary-nova-compute:\(Self.versionTag)"), deployed)
    }

    func testCreateTakesImagesOrAnEnvNotBoth() throws {
        let both = try CLI.run(["bundle", "create", "127.0.0.1:1/a/b:c", "-e", "env.yaml", "--output", "x"])
        XCTAssertEqual(both.status, 2, both.stderr)
        XCTAssertTrue(both.stderr.contains("give either images (registry/path:tag) or -e FILE, not both"), both.stderr)
        let neither = try CLI.run(["bundle", "create", "--output", "x"])
        XCTAssertEqual(neither.status, 2, neither.stderr)
    }
}
