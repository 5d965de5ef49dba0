import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// Finding 5 of issue 12: `current-tripleo` moves to another image while `prepare` runs.
/// A real registry holds both images; the fault proxy in front of it answers the tag with
/// the other image's manifest once the labels have been read. The copy and the modification
/// read the image whose labels named the destination tag, by digest.
final class MovingTagTests: XCTestCase {
    nonisolated(unsafe) static var registry: RegistryServer?
    nonisolated(unsafe) static var destination: RegistryServer?
    nonisolated(unsafe) static var proxy: FaultProxy?
    nonisolated(unsafe) static var setupError: (any Error)?

    override class func setUp() {
        do {
            let registry = try RegistryServer()
            Self.registry = registry
            destination = try RegistryServer()
            proxy = try FaultProxy(upstream: registry.address)
        } catch {
            setupError = error
        }
    }

    override class func tearDown() {
        proxy?.stop()
        registry?.stop()
        destination?.stop()
    }

    struct Pushed {
        var digest: Digest
        var layer: Digest
    }

    /// A one-layer image whose config carries `rdo_version` and the layer's diff_id.
    private func push(_ client: RegistryClient, _ reference: Reference, version: String) async throws -> Pushed {
        let layerData = Data("layer of \(reference) at \(version)\n".utf8) + Data(repeating: UInt8(version.count), count: 4096)
        let layer = try await client.pushBlob(layerData, mediaType: .dockerLayer, to: reference)
        let config: [String: Any] = [
            "architecture": "amd64", "os": "linux", "config": ["Labels": ["rdo_version": version]],
            "rootfs": ["type": "layers", "diff_ids": [layer.digest.description]],
        ]
        let configDescriptor = try await client.pushBlob(
            try JSONSerialization.data(withJSONObject: config, options: .sortedKeys), mediaType: .dockerConfig, to: reference)
        let manifest = try JSONEncoder().encode(Manifest(mediaType: .dockerManifest, config: configDescriptor, layers: [layer]))
        // Tagged as its label too, as a release is: discovery checks that the tag exists.
        for tag in [reference.tag ?? "latest", version] {
            try await client.pushManifest(manifest, mediaType: .dockerManifest, to: reference.withTag(tag))
        }
        return Pushed(digest: Digest(of: manifest), layer: layer.digest)
    }

    func testTheImageCopiedAndModifiedIsTheOneWhoseLabelsWereRead() async throws {
        if let error = Self.setupError { throw error }
        let registry = try XCTUnwrap(Self.registry)
        let proxy = try XCTUnwrap(Self.proxy)
        let destination = try XCTUnwrap(Self.destination)
        let client = RegistryClient(configuration: .init(insecureRegistries: [registry.address, proxy.address, destination.address]))
        var read: [String: Pushed] = [:]
        var moved: [String: Pushed] = [:]
        for name in ["app", "modapp"] {
            read[name] = try await push(client, try Reference("\(registry.address)/moving/\(name):current-tripleo"), version: "1.0")
            moved[name] = try await push(client, try Reference("\(registry.address)/moving/\(name):next"), version: "2.0-moved")
        }
        // Each image's tag answers truthfully once (the label read), then names the other image.
        try proxy.setRules(["app", "modapp"].map { .init(match: "^(GET|HEAD) /v2/moving/\($0)/manifests/current-tripleo", action: .forward, times: 1) }
            + ["app", "modapp"].map { .init(match: "^(GET|HEAD) /v2/moving/\($0)/manifests/current-tripleo", action: .retag, times: -1, location: "next") })

        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let custom = work.appendingPathComponent("custom")
        try FileManager.default.createDirectory(at: custom, withIntermediateDirectories: true)
        try "FROM base\nCOPY hello.txt /etc/hello.txt\n".write(to: custom.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        try "hello\n".write(to: custom.appendingPathComponent("hello.txt"), atomically: true, encoding: .utf8)
        let template = work.appendingPathComponent("t.yaml.j2")
        try """
            container_images_template:
            - imagename: "{{namespace}}/app:{{tag}}"
              params: [AppImage]
            - imagename: "{{namespace}}/modapp:{{tag}}"
              params: [ModAppImage]
            """.write(to: template, atomically: true, encoding: .utf8)
        let env = work.appendingPathComponent("env.yaml")
        try """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: \(destination.address)
                tag_from_label: rdo_version
                excludes: [modapp]
                set: {namespace: \(proxy.address)/moving, tag: current-tripleo}
              - push_destination: \(destination.address)
                tag_from_label: rdo_version
                includes: [modapp]
                set: {namespace: \(proxy.address)/moving, tag: current-tripleo}
                modify_role: tripleo-modify-image
                modify_append_tag: -mod
                modify_vars: {tasks_from: modify_image.yml, modify_dir_path: \(custom.path)}
            """.write(to: env, atomically: true, encoding: .utf8)
        let run = try CLI.run([
            "prepare", "-e", env.path, "--template-file", template.path, "--insecure-registry", proxy.address,
            "--insecure-registry", destination.address,
            "--work-dir", work.path, "--cache-dir", work.appendingPathComponent("cache").path, "--engine", "layer",
        ])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("AppImage: \(destination.address)/moving/app:1.0\n"), run.stdout)
        XCTAssertTrue(run.stdout.contains("ModAppImage: \(destination.address)/moving/modapp:1.0-mod\n"), run.stdout)

        // The tag has moved, as the run would have seen had it looked again.
        let now = try await client.fetchManifest(try Reference("\(proxy.address)/moving/app:current-tripleo"))
        XCTAssertEqual(now.digest, moved["app"]?.digest)
        XCTAssertTrue(proxy.requests().contains { $0.hasSuffix(" retag") })

        // 1.0 holds the image labelled 1.0, not the one the tag names now.
        let copied = try await client.fetchManifest(try Reference("\(destination.address)/moving/app:1.0"))
        XCTAssertEqual(copied.digest, read["app"]?.digest)
        let modified = try JSONDecoder().decode(
            Manifest.self, from: try await client.fetchManifest(try Reference("\(destination.address)/moving/modapp:1.0-mod")).bytes)
        XCTAssertEqual(modified.layers.count, 2)
        XCTAssertEqual(modified.layers.first?.digest, read["modapp"]?.layer, "the modification's base is the image labelled 1.0")
    }
}
