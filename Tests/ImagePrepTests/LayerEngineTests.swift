import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// The layer engine against buildah on the same Dockerfile, with real registries on
/// 127.0.0.1 and real buildah: the same files, labels, env, user, working directory,
/// entrypoint and command, and no base-layer bytes downloaded.
final class LayerEngineTests: XCTestCase {
    nonisolated(unsafe) static var fixture: Result<ModificationFixture, any Error>?
    nonisolated(unsafe) static var images: Result<BuiltImages, any Error>?

    override class func setUp() {
        let fixture = Result { try ModificationFixture(seeding: ["tripleomaster/centos-binary-app"]) }
        self.fixture = fixture
        images = Result { try BuiltImages(fixture: fixture.get()) }
    }

    override class func tearDown() {
        if let work = try? images?.get().work { try? FileManager.default.removeItem(at: work) }
        try? fixture?.get().stop()
    }

    /// The image's OCI config, as buildah reads it (the image must be in buildah's storage).
    private func config(of image: String, _ buildah: BuildahFixture) throws -> [String: Any] {
        let inspect = try buildah.buildah(["inspect", "--type", "image", image])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [String: Any])
        let oci = try XCTUnwrap(object["OCIv1"] as? [String: Any])
        return try XCTUnwrap(oci["config"] as? [String: Any])
    }

    /// With the base already at the destination (as after a mirror), the layer engine
    /// pushes one layer and downloads none of the base's.
    func testLayerEngineDownloadsNoBaseLayer() throws {
        let images = try XCTUnwrap(Self.images).get()
        let destination = images.fixture.destination
        XCTAssertEqual(images.baseCopied.status, 0, images.baseCopied.stderr)
        let baseLayers = try XCTUnwrap(images.baseLayers)
        XCTAssertFalse(baseLayers.isEmpty)
        XCTAssertEqual(images.layered.status, 0, images.layered.stderr)
        XCTAssertTrue(
            images.layered.stdout.hasPrefix("built \(destination.address)/apps/app:1-layer (modify_image.yml, layer engine, 1 layer of "),
            images.layered.stdout)
        XCTAssertTrue(images.layered.stdout.contains("base layers: 1 present, 0 mounted, 0 copied (0 B)"), images.layered.stdout)
        for digest in baseLayers {
            XCTAssertFalse(
                images.layeredRequests.contains { $0.hasPrefix("GET ") && $0.hasSuffix("/blobs/\(digest)") },
                "base layer \(digest) was downloaded: \(images.layeredRequests)")
        }
    }

    /// buildah recompresses the base's layers; the push uses the base's own blobs instead.
    func testBuildahPushReusesTheBaseLayerBlobs() throws {
        let images = try XCTUnwrap(Self.images).get()
        let baseLayers = try XCTUnwrap(images.baseLayers)
        XCTAssertEqual(images.built.status, 0, images.built.stderr)
        XCTAssertTrue(images.built.stdout.contains("(modify_image.yml, buildah, \(baseLayers.count) base layer(s) reused, "), images.built.stdout)
        let builtLayers = try images.layers(images.buildahImage)
        XCTAssertEqual(Array(builtLayers.prefix(baseLayers.count)), baseLayers)
        XCTAssertEqual(builtLayers.count, baseLayers.count + 1)
    }

    /// The same image either way: files (modes, owners, links, contents), and config
    /// (labels but the append tag, env, user, working directory, entrypoint, command).
    func testLayerEngineBuildsTheSameFilesAndConfigAsBuildah() throws {
        let images = try XCTUnwrap(Self.images).get()
        let buildah = images.fixture.buildah
        // fileTree pulls each image into buildah's storage, where config(of:) reads it.
        let layerTree = try buildah.fileTree(of: images.layerImage)
        let buildahTree = try buildah.fileTree(of: images.buildahImage)
        XCTAssertEqual(layerTree["/opt/app/bin/tool"]?.hasPrefix("file 755 0:0 "), true, "\(layerTree["/opt/app/bin/tool"] ?? "missing")")
        XCTAssertEqual(layerTree["/etc/app/secret.conf"]?.hasPrefix("file 640 0:0 "), true)
        XCTAssertEqual(layerTree["/opt/app/current"], "link 0:0 -> config.yaml")
        for path in Set(layerTree.keys).union(buildahTree.keys).sorted() where layerTree[path] != buildahTree[path] {
            XCTFail("\(path): layer engine \(layerTree[path] ?? "missing"), buildah \(buildahTree[path] ?? "missing")")
        }
        var layerConfig = try config(of: images.layerImage, buildah)
        var buildahConfig = try config(of: images.buildahImage, buildah)
        var layerLabels = try XCTUnwrap(layerConfig.removeValue(forKey: "Labels") as? [String: String])
        var buildahLabels = try XCTUnwrap(buildahConfig.removeValue(forKey: "Labels") as? [String: String])
        XCTAssertEqual(layerLabels.removeValue(forKey: "modified_append_tag"), "-layer")
        XCTAssertEqual(buildahLabels.removeValue(forKey: "modified_append_tag"), "-buildah")
        XCTAssertEqual(layerLabels, buildahLabels)
        XCTAssertEqual(layerLabels["maintainer"], "ops team")
        for key in ["Env", "User", "WorkingDir", "Entrypoint", "Cmd"] {
            XCTAssertEqual(layerConfig[key] as? NSObject, buildahConfig[key] as? NSObject, key)
        }
        XCTAssertEqual(layerConfig["Cmd"] as? [String], ["/bin/sh", "-c", "echo serving"])
    }

    /// Reproducible: the same inputs give the same digest.
    func testLayerEngineGivesTheSameDigestForTheSameInputs() throws {
        let images = try XCTUnwrap(Self.images).get()
        let destination = images.fixture.destination
        let again = try images.modify("\(destination.address)/apps/other:1", engine: "layer", appendTag: "-layer")
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try images.digest("\(destination.address)/apps/other:1-layer"), try images.digest(images.layerImage))
        XCTAssertNotNil(try images.digest(images.layerImage))
    }

    /// A Dockerfile that copies nothing changes the config only: no empty layer.
    func testLayerEngineAddsNoLayerForADockerfileThatCopiesNothing() throws {
        let images = try XCTUnwrap(Self.images).get()
        let destination = images.fixture.destination
        let labelOnly = images.work.appendingPathComponent("label-only")
        try FileManager.default.createDirectory(at: labelOnly, withIntermediateDirectories: true)
        try Data("FROM placeholder\nLABEL com.example.only=label\n".utf8).write(to: labelOnly.appendingPathComponent("Dockerfile"))
        let labelled = try images.modify("\(destination.address)/apps/app:3", engine: "layer", appendTag: "-label", directory: labelOnly)
        XCTAssertEqual(labelled.status, 0, labelled.stderr)
        XCTAssertTrue(labelled.stdout.contains("(modify_image.yml, layer engine, config only, no layer; "), labelled.stdout)
        XCTAssertEqual(try images.layers("\(destination.address)/apps/app:3-label"), try XCTUnwrap(images.baseLayers))
        XCTAssertEqual((try images.inspect("\(destination.address)/apps/app:3-label")?["labels"] as? [String: String])?["com.example.only"], "label")
    }

    /// A Dockerfile that runs something: --engine layer refuses it, naming the line, and
    /// pushes nothing; auto gives it to buildah and says why.
    func testLayerEngineRefusesRunAndAutoGivesItToBuildah() throws {
        let images = try XCTUnwrap(Self.images).get()
        let destination = images.fixture.destination
        let running = images.work.appendingPathComponent("running")
        try FileManager.default.createDirectory(at: running, withIntermediateDirectories: true)
        try Data("FROM placeholder\nUSER root\nRUN touch /ran\nUSER nova\n".utf8).write(to: running.appendingPathComponent("Dockerfile"))
        let refused = try images.modify("\(destination.address)/apps/app:2", engine: "layer", appendTag: "-run", directory: running)
        XCTAssertEqual(refused.status, 1, refused.stdout)
        XCTAssertTrue(refused.stderr.contains("\(running.path)/Dockerfile line 3: RUN needs buildah: use --engine auto or buildah"), refused.stderr)
        XCTAssertNil(try images.digest("\(destination.address)/apps/app:2-run"))
        let fallback = try images.modify("\(destination.address)/apps/app:2", engine: "auto", appendTag: "-run", directory: running)
        XCTAssertEqual(fallback.status, 0, fallback.stderr)
        XCTAssertTrue(fallback.stdout.contains("(modify_image.yml, buildah (\(running.path)/Dockerfile line 3: RUN needs buildah), "), fallback.stdout)
    }

    /// prepare picks the layer engine by default for a Dockerfile that runs nothing.
    func testPrepareUsesTheLayerEngineByDefaultWhenNothingRuns() throws {
        let images = try XCTUnwrap(Self.images).get()
        let (source, destination, work) = (images.fixture.source, images.fixture.destination, images.work)
        let template = work.appendingPathComponent("containers.yaml.j2")
        try """
            container_images_template:
            - imagename: "{{namespace}}/{{name_prefix}}app{{name_suffix}}:{{tag}}"
              params: [DockerAppImage]
            """.write(to: template, atomically: true, encoding: .utf8)
        let env = work.appendingPathComponent("prepare.yaml")
        try """
            parameter_defaults:
              DockerInsecureRegistryAddress: [\(source.address), \(destination.address)]
              ContainerImagePrepare:
              - push_destination: \(destination.address)
                tag_from_label: rdo_version
                set: {namespace: \(source.address)/tripleomaster, name_prefix: centos-binary-, tag: current-tripleo}
                modify_role: tripleo-modify-image
                modify_append_tag: -custom
                modify_vars: {tasks_from: modify_image.yml, modify_dir_path: \(images.context.path)}
            """.write(to: env, atomically: true, encoding: .utf8)
        let output = work.appendingPathComponent("images-env.yaml")
        let prepared = try CLI.run(["prepare", "-e", env.path, "--template-file", template.path, "--output-env-file", output.path] + images.build)
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        XCTAssertTrue(prepared.stderr.contains("modify_image.yml, layer engine, 1 layer of"), prepared.stderr)
        XCTAssertTrue(
            try String(contentsOf: output, encoding: .utf8).contains(
                "DockerAppImage: \(destination.address)/tripleomaster/centos-binary-app:1.0-test-custom"))
    }
}
