import Foundation
import ImagePrepTestSupport
import XCTest

extension LayerEngineTests {
    /// The operator's build context and the same Dockerfile built both ways, made once for
    /// the class: the base mirrored to the destination first, then `apps/app:1-layer` by the
    /// layer engine (with the requests it made) and `apps/app:1-buildah` by buildah.
    struct BuiltImages: @unchecked Sendable {
        let fixture: ModificationFixture
        let work: URL
        let context: URL
        let insecure: [String]
        let build: [String]
        let sourceImage: String
        /// `imageprep image copy` of the base to the destination, as after a mirror.
        let baseCopied: CLI.Output
        /// The base's layer digests, as `imageprep image inspect` lists them.
        let baseLayers: [String]?
        let layered: CLI.Output
        /// Requests at the source and destination while the layer engine built.
        let layeredRequests: [String]
        let built: CLI.Output
        var layerImage: String { "\(fixture.destination.address)/apps/app:1-layer" }
        var buildahImage: String { "\(fixture.destination.address)/apps/app:1-buildah" }

        init(fixture: ModificationFixture) throws {
            self.fixture = fixture
            let (source, destination, buildah) = (fixture.source, fixture.destination, fixture.buildah)
            work = try CLI.temporaryDirectory()
            insecure = ["--insecure-registry", source.address, "--insecure-registry", destination.address]
            sourceImage = "\(source.address)/tripleomaster/centos-binary-app:current-tripleo"
            context = work.appendingPathComponent("context")
            try Self.writeContext(context)
            build = [
                "--storage-driver", "vfs", "--isolation", "chroot", "--buildah-root", buildah.root,
                "--buildah-runroot", buildah.runRoot, "--work-dir", work.path, "--cache-dir", work.appendingPathComponent("cache").path,
            ]
            baseCopied = try CLI.run(["image", "copy", sourceImage, "\(destination.address)/apps/app:base"] + insecure)
            let baseInspect = try CLI.run(["image", "inspect", sourceImage] + insecure)
            baseLayers = ((try? JSONSerialization.jsonObject(with: Data(baseInspect.stdout.utf8))) as? [String: Any])
                .flatMap { $0["layers"] as? [[String: Any]] }?.compactMap { $0["digest"] as? String }

            let (sourceBefore, destinationBefore) = try runBlocking {
                (try await source.requests(after: 0).count, try await destination.requests(after: 0).count)
            }
            let (modify, target) = (Self.modifyArguments, "\(destination.address)/apps/app:1")
            let layered = try CLI.run(modify(sourceImage, target, context, "layer", "-layer") + build + insecure)
            self.layered = layered
            layeredRequests = try runBlocking {
                try await source.requests(after: sourceBefore) + destination.requests(after: destinationBefore)
            }
            built = try CLI.run(modify(sourceImage, target, context, "buildah", "-buildah") + build + insecure)
        }

        static func modifyArguments(_ source: String, _ target: String, _ directory: URL, _ engine: String, _ appendTag: String) -> [String] {
            [
                "modify", source, target, "--tasks-from", "modify_image", "--modify-dir-path", directory.path,
                "--append-tag", appendTag, "--engine", engine,
            ]
        }

        /// `imageprep modify` of the source image with this engine and directory (the
        /// operator's context unless given).
        func modify(_ target: String, engine: String, appendTag: String, directory: URL? = nil) throws -> CLI.Output {
            try CLI.run(Self.modifyArguments(sourceImage, target, directory ?? context, engine, appendTag) + build + insecure)
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

        func digest(_ image: String) throws -> String? { try inspect(image)?["digest"] as? String }

        /// The operator's build context: a directory tree (with a symlink and an empty
        /// directory), files with spaces, an executable, a file given its own mode.
        private static func writeContext(_ context: URL) throws {
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
        }
    }
}
