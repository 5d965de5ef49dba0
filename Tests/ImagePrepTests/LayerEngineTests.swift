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

    override class func setUp() {
        fixture = Result { try ModificationFixture(seeding: ["tripleomaster/centos-binary-app"]) }
    }

    override class func tearDown() {
        try? fixture?.get().stop()
    }

    private func config(of image: String, _ buildah: BuildahFixture) throws -> [String: Any] {
        let inspect = try buildah.buildah(["inspect", "--type", "image", image])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [String: Any])
        let oci = try XCTUnwrap(object["OCIv1"] as? [String: Any])
        return try XCTUnwrap(oci["config"] as? [String: Any])
    }

    func testLayerEngineMatchesBuildahAndDownloadsNoBaseLayer() async throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, destination, buildah) = (fixture.source, fixture.destination, fixture.buildah)
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let insecure = ["--insecure-registry", source.address, "--insecure-registry", destination.address]
        let sourceImage = "\(source.address)/tripleomaster/centos-binary-app:current-tripleo"

        // The operator's build context: a directory tree (with a symlink and an empty
        // directory), files with spaces, an executable, a file given its own mode.
        let context = work.appendingPathComponent("context")
        let files = FileManager.default
        try files.createDirectory(at: context.appendingPathComponent("app/bin"), withIntermediateDirectories: true)
        try files.createDirectory(at: context.appendingPathComponent("app/empty"), withIntermediateDirectories: true)
        try files.setAttributes([.posixPermissions: 0o750], ofItemAtPath: context.appendingPathComponent("app/empty").path)
        try files.createDirectory(at: context.appendingPathComponent("confdir/inner"), withIntermediateDirectories: true)
        func file(_ path: String, _ text: String, mode: Int = 0o644) throws {
            try Data(text.utf8).write(to: context.appendingPathComponent(path))
            try files.setAttributes([.posixPermissions: mode], ofItemAtPath: context.appendingPathComponent(path).path)
        }
        try file("app/bin/tool", "#!/bin/sh\necho tool\n", mode: 0o755)
        try file("app/config.yaml", "debug: false\n")
        try files.createSymbolicLink(atPath: context.appendingPathComponent("app/current").path, withDestinationPath: "config.yaml")
        try file("confdir/c.conf", "c\n")
        try file("confdir/inner/i.conf", "i\n")
        try file("secret.conf", "token: not-a-real-one\n", mode: 0o600)
        try file("notes.txt", "release notes\n")
        try file("with space.txt", "spaced\n")
        try file("run.sh", "#!/bin/sh\nexec \"$@\"\n", mode: 0o755)
        try file("Dockerfile", """
            # A custom layer: nothing runs.
            FROM placeholder
            LABEL maintainer="ops team" com.example.release=2
            ENV APP_HOME=/opt/app \\
                APP_MODE=hotfix
            COPY app/ /opt/app/
            COPY --chmod=0640 secret.conf /etc/app/
            COPY --chmod=0700 confdir/ /etc/confdir/
            ADD notes.txt /usr/share/doc/app/notes.txt
            COPY ["with space.txt", "/opt/app/"]
            WORKDIR /opt/app
            COPY run.sh ./
            USER 1000
            ENTRYPOINT ["/opt/app/run.sh"]
            CMD echo serving

            """)
        let build = [
            "--storage-driver", "vfs", "--isolation", "chroot", "--buildah-root", buildah.root,
            "--buildah-runroot", buildah.runRoot, "--work-dir", work.path, "--cache-dir", work.appendingPathComponent("cache").path,
        ]
        func modify(_ target: String, engine: String, appendTag: String, directory: URL = context) throws -> CLI.Output {
            try CLI.run([
                "modify", sourceImage, target, "--tasks-from", "modify_image", "--modify-dir-path", directory.path,
                "--append-tag", appendTag, "--engine", engine,
            ] + build + insecure)
        }

        /// `imageprep image inspect`'s JSON, or nil when the image is not there.
        func inspect(_ image: String) throws -> [String: Any]? {
            let output = try CLI.run(["image", "inspect", image] + insecure)
            guard output.status == 0 else { return nil }
            return try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        }
        func layers(_ image: String) throws -> [String] {
            try XCTUnwrap(try inspect(image)?["layers"] as? [[String: Any]], image).compactMap { $0["digest"] as? String }
        }

        // The base is already at the destination, as after a mirror.
        XCTAssertEqual(try CLI.run(["image", "copy", sourceImage, "\(destination.address)/apps/app:base"] + insecure).status, 0)
        let baseLayers = try layers(sourceImage)
        XCTAssertFalse(baseLayers.isEmpty)

        let sourceBefore = try await source.requests(after: 0).count
        let destinationBefore = try await destination.requests(after: 0).count
        let layered = try modify("\(destination.address)/apps/app:1", engine: "layer", appendTag: "-layer")
        XCTAssertEqual(layered.status, 0, layered.stderr)
        XCTAssertTrue(layered.stdout.hasPrefix("built \(destination.address)/apps/app:1-layer (modify_image.yml, layer engine, 1 layer of "), layered.stdout)
        XCTAssertTrue(layered.stdout.contains("base layers: 1 present, 0 mounted, 0 copied (0 B)"), layered.stdout)
        let requests = try await source.requests(after: sourceBefore) + destination.requests(after: destinationBefore)
        for digest in baseLayers {
            XCTAssertFalse(requests.contains { $0.hasPrefix("GET ") && $0.hasSuffix("/blobs/\(digest)") }, "base layer \(digest) was downloaded: \(requests)")
        }

        let built = try modify("\(destination.address)/apps/app:1", engine: "buildah", appendTag: "-buildah")
        XCTAssertEqual(built.status, 0, built.stderr)
        XCTAssertTrue(built.stdout.contains("(modify_image.yml, buildah, \(baseLayers.count) base layer(s) reused, "), built.stdout)
        // buildah recompresses the base's layers; the push uses the base's own blobs instead.
        let builtLayers = try layers("\(destination.address)/apps/app:1-buildah")
        XCTAssertEqual(Array(builtLayers.prefix(baseLayers.count)), baseLayers)
        XCTAssertEqual(builtLayers.count, baseLayers.count + 1)

        // The same image either way.
        let layerImage = "\(destination.address)/apps/app:1-layer"
        let buildahImage = "\(destination.address)/apps/app:1-buildah"
        let layerTree = try buildah.fileTree(of: layerImage)
        let buildahTree = try buildah.fileTree(of: buildahImage)
        XCTAssertEqual(layerTree["/opt/app/bin/tool"]?.hasPrefix("file 755 0:0 "), true, "\(layerTree["/opt/app/bin/tool"] ?? "missing")")
        XCTAssertEqual(layerTree["/etc/app/secret.conf"]?.hasPrefix("file 640 0:0 "), true)
        XCTAssertEqual(layerTree["/opt/app/current"], "link 0:0 -> config.yaml")
        for path in Set(layerTree.keys).union(buildahTree.keys).sorted() where layerTree[path] != buildahTree[path] {
            XCTFail("\(path): layer engine \(layerTree[path] ?? "missing"), buildah \(buildahTree[path] ?? "missing")")
        }
        var layerConfig = try config(of: layerImage, buildah)
        var buildahConfig = try config(of: buildahImage, buildah)
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

        // Reproducible: the same inputs give the same digest.
        let again = try modify("\(destination.address)/apps/other:1", engine: "layer", appendTag: "-layer")
        XCTAssertEqual(again.status, 0, again.stderr)
        func digest(_ image: String) throws -> String? { try inspect(image)?["digest"] as? String }
        XCTAssertEqual(try digest("\(destination.address)/apps/other:1-layer"), try digest(layerImage))
        XCTAssertNotNil(try digest(layerImage))

        // A Dockerfile that copies nothing changes the config only: no empty layer.
        let labelOnly = work.appendingPathComponent("label-only")
        try files.createDirectory(at: labelOnly, withIntermediateDirectories: true)
        try Data("FROM placeholder\nLABEL com.example.only=label\n".utf8).write(to: labelOnly.appendingPathComponent("Dockerfile"))
        let labelled = try modify("\(destination.address)/apps/app:3", engine: "layer", appendTag: "-label", directory: labelOnly)
        XCTAssertEqual(labelled.status, 0, labelled.stderr)
        XCTAssertTrue(labelled.stdout.contains("(modify_image.yml, layer engine, config only, no layer; "), labelled.stdout)
        XCTAssertEqual(try layers("\(destination.address)/apps/app:3-label"), baseLayers)
        XCTAssertEqual((try inspect("\(destination.address)/apps/app:3-label")?["labels"] as? [String: String])?["com.example.only"], "label")

        // A Dockerfile that runs something: --engine layer refuses it, naming the line, and
        // pushes nothing; auto gives it to buildah and says why.
        let running = work.appendingPathComponent("running")
        try files.createDirectory(at: running, withIntermediateDirectories: true)
        try Data("FROM placeholder\nUSER root\nRUN touch /ran\nUSER nova\n".utf8).write(to: running.appendingPathComponent("Dockerfile"))
        let refused = try modify("\(destination.address)/apps/app:2", engine: "layer", appendTag: "-run", directory: running)
        XCTAssertEqual(refused.status, 1, refused.stdout)
        XCTAssertTrue(refused.stderr.contains("\(running.path)/Dockerfile line 3: RUN needs buildah: use --engine auto or buildah"), refused.stderr)
        XCTAssertNil(try digest("\(destination.address)/apps/app:2-run"))
        let fallback = try modify("\(destination.address)/apps/app:2", engine: "auto", appendTag: "-run", directory: running)
        XCTAssertEqual(fallback.status, 0, fallback.stderr)
        XCTAssertTrue(fallback.stdout.contains("(modify_image.yml, buildah (\(running.path)/Dockerfile line 3: RUN needs buildah), "), fallback.stdout)

        // prepare picks the layer engine by default for a Dockerfile that runs nothing.
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
                modify_vars: {tasks_from: modify_image.yml, modify_dir_path: \(context.path)}
            """.write(to: env, atomically: true, encoding: .utf8)
        let output = work.appendingPathComponent("images-env.yaml")
        let prepared = try CLI.run(["prepare", "-e", env.path, "--template-file", template.path, "--output-env-file", output.path] + build)
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        XCTAssertTrue(prepared.stderr.contains("modify_image.yml, layer engine, 1 layer of"), prepared.stderr)
        XCTAssertTrue(
            try String(contentsOf: output, encoding: .utf8).contains(
                "DockerAppImage: \(destination.address)/tripleomaster/centos-binary-app:1.0-test-custom"))
    }
}
