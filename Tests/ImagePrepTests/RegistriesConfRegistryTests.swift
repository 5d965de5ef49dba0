import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// registries.conf in a real run: pulls go through the mirrors in order when the registry
/// itself is down, pushes never do; a blocked registry stops the run before any request.
final class RegistriesConfRegistryTests: XCTestCase {
    nonisolated(unsafe) static var servers: Result<(mirror: RegistryServer, destination: RegistryServer), any Error>?
    nonisolated(unsafe) static var seeded: Digest?

    override class func setUp() {
        servers = Result {
            let mirror = try RegistryServer()
            do {
                return (mirror, try RegistryServer())
            } catch {
                mirror.stop()
                throw error
            }
        }
    }

    override class func tearDown() {
        if let (mirror, destination) = try? servers?.get() {
            mirror.stop()
            destination.stop()
        }
    }

    /// The mirror holds `tripleomaster/centos-binary-keystone:current-tripleo`, labelled.
    func seedMirror(_ mirror: RegistryServer) async throws -> Digest {
        if let seeded = Self.seeded { return seeded }
        let client = RegistryClient(configuration: .init(insecureRegistries: [mirror.address]))
        let reference = try Reference("\(mirror.address)/tripleomaster/centos-binary-keystone:current-tripleo")
        let layer = try await client.pushBlob(Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }), to: reference)
        let config = try JSONEncoder().encode(
            ImageConfig(architecture: "amd64", os: "linux", config: ContainerConfig(user: "keystone", labels: ["rdo_version": "2.0-mirror"])))
        let configDescriptor = try await client.pushBlob(config, mediaType: .dockerConfig, to: reference)
        let manifest = try JSONEncoder().encode(Manifest(config: configDescriptor, layers: [layer]))
        let digest = try await client.pushManifest(manifest, mediaType: .dockerManifest, to: reference)
        // The versioned tag the label names exists too: the tag is checked where the labels were read.
        try await client.pushManifest(manifest, mediaType: .dockerManifest,
                                      to: try Reference("\(mirror.address)/tripleomaster/centos-binary-keystone:2.0-mirror"))
        Self.seeded = digest
        return digest
    }

    func write(_ text: String, _ name: String, in directory: URL) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func environment(source: String, destination: String, in work: URL) throws -> [String] {
        let template = try write(
            """
            container_images_template:
            - imagename: "{{namespace}}/{{name_prefix}}keystone{{name_suffix}}:{{tag}}"
              image_source: kolla
              params: [DockerKeystoneImage]
            """, "containers.yaml.j2", in: work)
        let env = try write(
            """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: \(destination)
                tag_from_label: rdo_version
                set: {namespace: \(source)/tripleomaster, name_prefix: centos-binary-, tag: current-tripleo}
            """, "prepare.yaml", in: work)
        return ["prepare", "-e", env, "--template-file", template, "--no-cache", "--insecure-registry", destination]
    }

    func testPullsGoThroughTheMirrorsInOrderWhenTheRegistryIsDown() async throws {
        let (mirror, destination) = try XCTUnwrap(Self.servers).get()
        let digest = try await seedMirror(mirror)
        let seedRequests = try await mirror.requests(after: 0).count
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        // Nothing listens on these two: the registry itself and its first mirror are down.
        let location = "127.0.0.1:\(try RegistryServer.freePort())"
        let deadMirror = "127.0.0.1:\(try RegistryServer.freePort())"
        let conf = try write(
            """
            [[registry]]
            location = "\(location)"
            insecure = true

            [[registry.mirror]]
            location = "\(deadMirror)"
            insecure = true

            [[registry.mirror]]
            location = "\(mirror.address)"
            insecure = true
            """, "registries.conf", in: work)
        let output = work.appendingPathComponent("images-env.yaml").path
        let started = Date()
        let run = try CLI.run(
            try environment(source: location, destination: destination.address, in: work)
                + ["--registries-conf", conf, "--output-env-file", output])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 60, "the dead mirror is given up once, not per request")

        // The tag was discovered from the mirror's labels, the image copied from there; the
        // mirror, reached insecurely, is not listed: no parameter names it.
        XCTAssertEqual(
            try String(contentsOfFile: output, encoding: .utf8),
            """
            parameter_defaults:
              DockerKeystoneImage: \(destination.address)/tripleomaster/centos-binary-keystone:2.0-mirror
              DockerInsecureRegistryAddress:
              - \(destination.address)

            """)
        XCTAssertTrue(run.stderr.contains("from mirror \(mirror.address)"), run.stderr)
        let mirrorRequests = try await mirror.requests(after: seedRequests)
        XCTAssertTrue(mirrorRequests.contains("GET /v2/tripleomaster/centos-binary-keystone/manifests/current-tripleo"), "\(mirrorRequests)")
        XCTAssertFalse(mirrorRequests.contains { $0.hasPrefix("PUT") || $0.hasPrefix("POST") }, "nothing is pushed to a mirror")
        // Byte for byte: the destination's digest is the mirror's.
        let client = RegistryClient(configuration: .init(insecureRegistries: [destination.address]))
        let copied = try await client.headManifest(
            try Reference("\(destination.address)/tripleomaster/centos-binary-keystone:2.0-mirror"))
        XCTAssertEqual(copied?.digest, digest)
    }

    func testWhenNoSourceHasTheImageTheErrorSaysWhatTheMirrorsSaid() async throws {
        let (mirror, destination) = try XCTUnwrap(Self.servers).get()
        _ = try await seedMirror(mirror)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        // The registry is up but has no such image, nor has its mirror.
        let conf = try write(
            """
            [[registry]]
            location = "\(destination.address)"
            insecure = true
            [[registry.mirror]]
            location = "\(mirror.address)/elsewhere"
            insecure = true
            """, "registries.conf", in: work)
        let run = try CLI.run(
            try environment(source: destination.address, destination: destination.address, in: work) + ["--registries-conf", conf])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("(registries.conf mirrors tried first: \(mirror.address): "), run.stderr)
        XCTAssertTrue(run.stderr.contains("\(mirror.address)/elsewhere/tripleomaster/centos-binary-keystone:current-tripleo"), run.stderr)
        // Behind the mirrors tried, the failure is still the registry's: so --json says.
        let json = try CLI.run(
            try environment(source: destination.address, destination: destination.address, in: work)
                + ["--registries-conf", conf, "--json"])
        XCTAssertEqual(json.status, 1)
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], json.stdout)
        let failures = try XCTUnwrap(document["failures"] as? [[String: String]], json.stdout)
        XCTAssertFalse(failures.isEmpty)
        XCTAssertEqual(Set(failures.map { $0["kind"] ?? "" }), ["registry"], json.stdout)
        XCTAssertTrue(failures.allSatisfy { ($0["reason"] ?? "").contains("(registries.conf mirrors tried first: ") }, json.stdout)
    }

    func testABlockedRegistryStopsTheRunBeforeAnyRequest() async throws {
        let (mirror, destination) = try XCTUnwrap(Self.servers).get()
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        // The v1 format, as older undercloud hosts carry it.
        let conf = try write(
            """
            [registries.insecure]
            registries = ['\(destination.address)']

            [registries.block]
            registries = ['\(mirror.address)']
            """, "registries.conf", in: work)
        let mirrorBefore = try await mirror.requests(after: 0).count
        let destinationBefore = try await destination.requests(after: 0).count
        let run = try CLI.run(
            try environment(source: mirror.address, destination: destination.address, in: work) + ["--registries-conf", conf])
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(
            run.stderr,
            "Error: registry \(mirror.address) is blocked in \(conf) (blocked = true): "
                + "not pulling \(mirror.address)/tripleomaster/centos-binary-keystone:current-tripleo\n")
        XCTAssertEqual(run.stdout, "")
        let mirrorAfter = try await mirror.requests(after: 0).count
        let destinationAfter = try await destination.requests(after: 0).count
        XCTAssertEqual(mirrorAfter, mirrorBefore)
        XCTAssertEqual(destinationAfter, destinationBefore)

        // A malformed file: one line naming the file and line.
        let bad = try write("[[registry]]\nlocation = \"\(mirror.address)\"\nblocked = yes\n", "bad.conf", in: work)
        let malformed = try CLI.run(
            try environment(source: mirror.address, destination: destination.address, in: work) + ["--registries-conf", bad])
        XCTAssertEqual(malformed.status, 1)
        XCTAssertTrue(malformed.stderr.hasPrefix("Error: \(bad):3: malformed TOML: "), malformed.stderr)
        XCTAssertEqual(malformed.stderr.split(separator: "\n").count, 1, malformed.stderr)
    }
}
