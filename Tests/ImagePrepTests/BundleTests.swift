import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// `bundle create` from a real docker-registry, the bundle moved, read by skopeo, loaded into
/// a real apache2 image-serve, and `prepare` run against it with the source registry stopped.
final class BundleTests: XCTestCase {
    func testABundleMovedAndLoadedIntoImageServePreparesWithTheSourceGone() async throws {
        let images = try ModificationFixture(seeding: ["tripleomaster/centos-binary-keystone", "tripleomaster/centos-binary-nova-compute"])
        defer { images.stop() }
        let imageServe = try ImageServeServer()
        defer { imageServe.stop() }
        let source = images.source
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let keystone = "\(source.address)/tripleomaster/centos-binary-keystone:1.0-test"
        let nova = "\(source.address)/tripleomaster/centos-binary-nova-compute:1.0-test"
        let made = work.appendingPathComponent("made")
        let created = try CLI.run(["bundle", "create", keystone, nova, "--output", made.path, "--insecure-registry", source.address])
        XCTAssertEqual(created.status, 0, created.stderr)
        // The two images share their base's layers: each stored once.
        XCTAssertTrue(created.stdout.contains("2 image(s)"), created.stdout)
        XCTAssertFalse(created.stdout.contains(" 0 shared"), created.stdout)

        let moved = work.appendingPathComponent("moved")
        try FileManager.default.copyItem(at: made, to: moved)

        // skopeo reads the bundle by the full source reference.
        let skopeoOut = work.appendingPathComponent("skopeo-dir")
        let skopeo = try CLI.runProcess(URL(fileURLWithPath: "/usr/bin/skopeo"),
                                        ["copy", "oci:\(moved.path):\(keystone)", "dir:\(skopeoOut.path)"])
        XCTAssertEqual(skopeo.status, 0, skopeo.stderr)
        let client = RegistryClient(configuration: RegistryClient.Configuration(insecureRegistries: [source.address, imageServe.address]))
        let sourceManifest = try await client.fetchManifest(try Reference(keystone))
        XCTAssertEqual(try Data(contentsOf: skopeoOut.appendingPathComponent("manifest.json")), sourceManifest.bytes)

        // A damaged copy is refused with one line naming the missing blob.
        let damaged = work.appendingPathComponent("damaged")
        try FileManager.default.copyItem(at: made, to: damaged)
        let manifest = try JSONDecoder().decode(Manifest.self, from: sourceManifest.bytes)
        let layer = try XCTUnwrap(manifest.layers.last)
        try FileManager.default.removeItem(at: damaged.appendingPathComponent("blobs/sha256/\(layer.digest.encoded)"))
        let refused = try CLI.run(["bundle", "load", damaged.path, "--to", imageServe.address, "--image-serve-dir", imageServe.root.path,
                                   "--insecure-registry", imageServe.address])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("blob \(layer.digest) of \(keystone) is missing"), refused.stderr)

        // Source gone: everything from here on comes from the bundle.
        source.stop()
        let loaded = try CLI.run(["bundle", "load", moved.path, "--to", imageServe.address, "--image-serve-dir", imageServe.root.path,
                                  "--insecure-registry", imageServe.address])
        XCTAssertEqual(loaded.status, 0, loaded.stderr)
        XCTAssertTrue(loaded.stdout.contains("loaded \(imageServe.address)/tripleomaster/centos-binary-keystone:1.0-test \(sourceManifest.digest)"), loaded.stdout)
        let served = imageServe.root.appendingPathComponent("v2/tripleomaster/centos-binary-keystone/manifests/\(sourceManifest.digest)/index.json")
        XCTAssertEqual(try Data(contentsOf: served), sourceManifest.bytes)

        let template = work.appendingPathComponent("containers.yaml.j2")
        try """
            container_images_template:
            - imagename: "{{namespace}}/{{name_prefix}}keystone{{name_suffix}}:{{tag}}"
              params: [DockerKeystoneImage]
            """.write(to: template, atomically: true, encoding: .utf8)
        let env = work.appendingPathComponent("containers-prepare-parameter.yaml")
        try """
            parameter_defaults:
              DockerInsecureRegistryAddress: [\(imageServe.address)]
              ContainerImagePrepare:
              - tag_from_label: rdo_version
                set: {namespace: \(imageServe.address)/tripleomaster, name_prefix: centos-binary-, tag: 1.0-test}
            """.write(to: env, atomically: true, encoding: .utf8)
        let prepared = try CLI.run(["prepare", "-e", env.path, "--template-file", template.path,
                                    "--image-serve-dir", imageServe.root.path, "--cache-dir", work.appendingPathComponent("cache").path])
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        XCTAssertTrue(prepared.stdout.contains("DockerKeystoneImage: \(imageServe.address)/tripleomaster/centos-binary-keystone:1.0-test"), prepared.stdout)
    }
}
