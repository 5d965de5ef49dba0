import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// `imageprep prepare --diff` end to end: a real prepare against two real registries on
/// 127.0.0.1 writes the env file that is then "deployed"; new image versions are pushed to
/// the source (a new tag its label names, then the same tag with new content), and
/// `--diff` against the deployed file shows exactly those, reads only, and exits 3.
final class PrepareDiffTests: XCTestCase {
    nonisolated(unsafe) static var source: RegistryServer?
    nonisolated(unsafe) static var destination: RegistryServer?
    /// apache2 serving an image-serve directory (started here, on the main thread: see ImageServeFixture).
    nonisolated(unsafe) static var imageServe: ImageServeServer?
    nonisolated(unsafe) static var setupError: (any Error)?

    override class func setUp() {
        do {
            source = try RegistryServer()
            destination = try RegistryServer()
            imageServe = try ImageServeServer()
        } catch {
            setupError = error
        }
    }

    override class func tearDown() {
        source?.stop()
        destination?.stop()
        imageServe?.stop()
    }

    var work: URL!

    override func setUpWithError() throws {
        work = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    /// A one-layer image labelled `rdo_version: version`, its layer made of `content`, put
    /// under each of `tags`; its manifest's digest.
    @discardableResult
    private func push(
        _ client: RegistryClient, _ repository: String, tags: [String], version: String, content: String
    ) async throws -> Digest {
        let reference = try Reference(repository)
        let layerData = Data("layer of \(repository): \(content)\n".utf8) + Data(repeating: 7, count: 2048)
        let layer = try await client.pushBlob(layerData, mediaType: .dockerLayer, to: reference)
        let config: [String: Any] = [
            "architecture": "amd64", "os": "linux", "config": ["Labels": ["rdo_version": version]],
            "rootfs": ["type": "layers", "diff_ids": [layer.digest.description]],
        ]
        let configDescriptor = try await client.pushBlob(
            try JSONSerialization.data(withJSONObject: config, options: .sortedKeys), mediaType: .dockerConfig, to: reference)
        let manifest = try JSONEncoder().encode(Manifest(mediaType: .dockerManifest, config: configDescriptor, layers: [layer]))
        for tag in tags {
            try await client.pushManifest(manifest, mediaType: .dockerManifest, to: reference.withTag(tag))
        }
        return Digest(of: manifest)
    }

    /// The template, environment and arguments of a prepare of keystone, glance-api and
    /// nova-api (two parameters) from `source` to `destination`, tags from `rdo_version`.
    private func prepareArguments(_ source: RegistryServer, _ destination: RegistryServer) throws -> [String] {
        try prepareArguments(source, destination: destination.address)
    }

    private func prepareArguments(_ source: RegistryServer, destination: String) throws -> [String] {
        let template = work.appendingPathComponent("containers.yaml.j2")
        try """
            container_images_template:
            - imagename: "{{namespace}}/{{name_prefix}}keystone:{{tag}}"
              params: [DockerKeystoneImage]
            - imagename: "{{namespace}}/{{name_prefix}}glance-api:{{tag}}"
              params: [DockerGlanceApiImage]
            - imagename: "{{namespace}}/{{name_prefix}}nova-api:{{tag}}"
              params: [DockerNovaApiImage, DockerNovaConfigImage]
            """.write(to: template, atomically: true, encoding: .utf8)
        let env = work.appendingPathComponent("containers-prepare-parameter.yaml")
        try """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: \(destination)
                tag_from_label: rdo_version
                set: {namespace: \(source.address)/tripleomaster, name_prefix: centos-binary-, tag: current-tripleo}
            """.write(to: env, atomically: true, encoding: .utf8)
        return [
            "prepare", "-e", env.path, "--template-file", template.path, "--insecure-registry", source.address,
            "--insecure-registry", destination, "--cache-dir", work.appendingPathComponent("cache").path,
        ]
    }

    /// keystone, glance-api and nova-api pushed to `source` under `current-tripleo` and
    /// `version` (their label), then prepared into `destination` (with `extra`): what the
    /// diffs compare against, the deployed env file among it.
    private func deploy(
        version: String, contentSuffix: String = "", from source: RegistryServer, to destination: String, extra: [String] = []
    ) async throws -> (client: RegistryClient, namespace: String, target: String, arguments: [String], deployed: URL) {
        let client = RegistryClient(configuration: .init(insecureRegistries: [source.address, destination]))
        let namespace = "\(source.address)/tripleomaster/centos-binary-"
        for name in ["keystone", "glance-api", "nova-api"] {
            try await push(
                client, namespace + name, tags: ["current-tripleo", version], version: version, content: "\(name) \(version)\(contentSuffix)")
        }
        let arguments = try prepareArguments(source, destination: destination) + extra
        let deployed = work.appendingPathComponent("deployed-images.yaml")
        let prepared = try CLI.run(arguments + ["--output-env-file", deployed.path])
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        return (client, namespace, "\(destination)/tripleomaster/centos-binary-", arguments, deployed)
    }

    private func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: work.path).sorted()
    }

    func testDiffShowsTheNewTagAndTheSameTagWithNewContentAndNothingElse() async throws {
        if let error = Self.setupError { throw error }
        let source = try XCTUnwrap(Self.source)
        let destination = try XCTUnwrap(Self.destination)
        let (client, namespace, target, arguments, deployed) = try await deploy(version: "1.0", from: source, to: destination.address)
        let deployedText = """
            parameter_defaults:
              DockerGlanceApiImage: \(target)glance-api:1.0
              DockerKeystoneImage: \(target)keystone:1.0
              DockerNovaApiImage: \(target)nova-api:1.0
              DockerNovaConfigImage: \(target)nova-api:1.0
              DockerInsecureRegistryAddress:
              - \(destination.address)

            """
        XCTAssertEqual(try String(contentsOf: deployed, encoding: .utf8), deployedText)
        let diffArguments = arguments + ["--diff", deployed.path]

        // Nothing new: exit 0, every parameter's digest compared.
        let same = try CLI.run(diffArguments)
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertEqual(same.stdout, "No differences: 4 parameter(s) as in \(deployed.path) (digests compared for 4).\n")

        // A new release of keystone: its label names a new tag.
        try await push(client, namespace + "keystone", tags: ["current-tripleo", "1.1"], version: "1.1", content: "keystone 1.1")
        let newTag = try CLI.run(diffArguments)
        XCTAssertEqual(newTag.status, 3, newTag.stderr)
        XCTAssertEqual(newTag.stdout, """
            DockerKeystoneImage: \(target)keystone:1.0 → \(target)keystone:1.1

            1 parameter(s) differ from \(deployed.path): 1 changed, 0 added, 0 removed, 0 new image(s) under the same tag; 3 unchanged (digests compared for 3).

            """)

        // glance-api rebuilt under the same version: same tag, new content.
        let deployedGlance = try await client.fetchManifest(try Reference("\(target)glance-api:1.0")).digest
        let rebuilt = try await push(
            client, namespace + "glance-api", tags: ["current-tripleo", "1.0"], version: "1.0", content: "glance-api 1.0 rebuilt")
        XCTAssertNotEqual(rebuilt, deployedGlance)
        let filesBefore = try files()
        let requestsBefore = destination.requests().count
        let both = try CLI.run(diffArguments)
        XCTAssertEqual(both.status, 3, both.stderr)
        let short = { (digest: Digest) in "sha256:\(digest.encoded.prefix(12))" }
        XCTAssertEqual(both.stdout, """
            DockerGlanceApiImage: \(target)glance-api:1.0: \(short(deployedGlance)) → \(short(rebuilt)) (same tag, new image)
            DockerKeystoneImage: \(target)keystone:1.0 → \(target)keystone:1.1

            2 parameter(s) differ from \(deployed.path): 1 changed, 0 added, 0 removed, 1 new image(s) under the same tag; 2 unchanged (digests compared for 3).

            """)
        XCTAssertEqual(both.stderr, "")
        // Reads only: one HEAD per unchanged image at the destination (nova-api's two
        // parameters share one), no upload, no file written, the deployed file as it was.
        let asked = try await destination.requests(after: requestsBefore).filter { $0 != "GET /v2/" }
        XCTAssertEqual(asked.sorted(), [
            "HEAD /v2/tripleomaster/centos-binary-glance-api/manifests/1.0",
            "HEAD /v2/tripleomaster/centos-binary-nova-api/manifests/1.0",
        ])
        XCTAssertEqual(try files(), filesBefore)
        XCTAssertEqual(try String(contentsOf: deployed, encoding: .utf8), deployedText)
        let unchanged = try await client.fetchManifest(try Reference("\(target)glance-api:1.0")).digest
        XCTAssertEqual(unchanged, deployedGlance, "the destination was not written")

        // The same as values.
        let json = try CLI.run(diffArguments + ["--json"])
        XCTAssertEqual(json.status, 3, json.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let diff = try XCTUnwrap(object["diff"] as? [String: Any])
        XCTAssertEqual(diff["changed"] as? [[String: String]], [
            ["name": "DockerKeystoneImage", "old": "\(target)keystone:1.0", "new": "\(target)keystone:1.1"],
        ])
        XCTAssertEqual(diff["digest_changed"] as? [[String: String]], [
            [
                "name": "DockerGlanceApiImage", "image": "\(target)glance-api:1.0", "deployed": deployedGlance.description,
                "new": rebuilt.description,
            ],
        ])
        XCTAssertEqual(diff["unchanged"] as? [String], ["DockerGlanceApiImage", "DockerNovaApiImage", "DockerNovaConfigImage"])
        XCTAssertEqual((diff["added"] as? [Any])?.count, 0)
        XCTAssertEqual((diff["removed"] as? [Any])?.count, 0)
        XCTAssertEqual(object["deployed_file"] as? String, deployed.path)

        // A deployed file that lacks a parameter the prepare writes and names one it no longer does.
        let edited = work.appendingPathComponent("edited.yaml")
        try deployedText.replacingOccurrences(of: "  DockerNovaConfigImage:", with: "  DockerSwiftProxyImage:")
            .write(to: edited, atomically: true, encoding: .utf8)
        let addedRemoved = try CLI.run(arguments + ["--diff", edited.path])
        XCTAssertEqual(addedRemoved.status, 3, addedRemoved.stderr)
        XCTAssertTrue(addedRemoved.stdout.hasPrefix("""
            DockerGlanceApiImage: \(target)glance-api:1.0: \(short(deployedGlance)) → \(short(rebuilt)) (same tag, new image)
            DockerKeystoneImage: \(target)keystone:1.0 → \(target)keystone:1.1
            DockerNovaConfigImage: (not deployed) → \(target)nova-api:1.0
            DockerSwiftProxyImage: \(target)nova-api:1.0 → (no longer written)

            4 parameter(s) differ
            """), addedRemoved.stdout)
    }

    /// The undercloud's destination: image-serve on apache2. The deployed images are read
    /// through its httpd (a HEAD per image), a rebuilt image under the deployed tag is found,
    /// and nothing in the image-serve directory changes.
    func testDiffAgainstImageServeReadsThroughItsHttpdAndWritesNothing() async throws {
        if let error = Self.setupError { throw error }
        let source = try XCTUnwrap(Self.source)
        let imageServe = try XCTUnwrap(Self.imageServe)
        let (client, namespace, target, arguments, deployed) = try await deploy(
            version: "2.0", contentSuffix: " for image-serve", from: source, to: imageServe.address,
            extra: ["--image-serve-dir", imageServe.root.path])
        XCTAssertTrue(try String(contentsOf: deployed, encoding: .utf8).contains("DockerGlanceApiImage: \(target)glance-api:2.0\n"))
        let diffArguments = arguments + ["--diff", deployed.path]

        let same = try CLI.run(diffArguments)
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertEqual(same.stdout, "No differences: 4 parameter(s) as in \(deployed.path) (digests compared for 4).\n")

        let deployedGlance = try await client.fetchManifest(try Reference("\(target)glance-api:2.0")).digest
        let rebuilt = try await push(
            client, namespace + "glance-api", tags: ["current-tripleo", "2.0"], version: "2.0", content: "glance-api 2.0 rebuilt")
        let directoryBefore = imageServe.snapshot()
        let requestsBefore = imageServe.requests().count
        let diff = try CLI.run(diffArguments)
        XCTAssertEqual(diff.status, 3, diff.stderr)
        let short = { (digest: Digest) in "sha256:\(digest.encoded.prefix(12))" }
        XCTAssertEqual(diff.stdout, """
            DockerGlanceApiImage: \(target)glance-api:2.0: \(short(deployedGlance)) → \(short(rebuilt)) (same tag, new image)

            1 parameter(s) differ from \(deployed.path): 0 changed, 0 added, 0 removed, 1 new image(s) under the same tag; 3 unchanged (digests compared for 4).

            """)
        // Read through httpd, one HEAD per image (nova-api's two parameters share one); the
        // directory httpd serves is byte for byte as it was.
        // (An insecure registry is tried over TLS first: httpd logs that ClientHello as a 400
        // line that is no request.)
        let asked = imageServe.requests().dropFirst(requestsBefore)
            .filter { $0.first?.isASCII == true && $0.first?.isLetter == true && !$0.hasPrefix("GET /v2/ ") }
        XCTAssertEqual(asked.count, 3, "\(asked)")
        XCTAssertTrue(asked.allSatisfy { $0.hasPrefix("HEAD /v2/tripleomaster/centos-binary-") }, "\(asked)")
        XCTAssertEqual(imageServe.snapshot(), directoryBefore)
    }

    /// A role's own images (`ComputeContainerImagePrepare`, written as `ComputeParameters`)
    /// are compared too, each named `ComputeParameters.NAME`: a new hotfix tag for the role is
    /// a line per parameter it changes, the others stay; a deployed file without the role's
    /// mapping shows them added.
    func testDiffComparesARolesOwnParametersNamedByTheRole() async throws {
        if let error = Self.setupError { throw error }
        let source = try XCTUnwrap(Self.source)
        let destination = try XCTUnwrap(Self.destination)
        let client = RegistryClient(configuration: .init(insecureRegistries: [source.address, destination.address]))
        let namespace = "\(source.address)/rolediff/openstack-"
        try await push(client, namespace + "keystone", tags: ["17.1"], version: "17.1", content: "keystone 17.1")
        try await push(client, namespace + "nova-compute", tags: ["17.1"], version: "17.1", content: "nova-compute 17.1")
        for tag in ["17.1-hotfix", "17.1-hotfix2"] {
            try await push(client, namespace + "nova-compute", tags: [tag], version: "17.1", content: "nova-compute \(tag)")
        }
        let roles = work.appendingPathComponent("roles_data.yaml")
        try """
            - name: Controller
              CountDefault: 1
              ServicesDefault: [OS::TripleO::Services::Keystone]
            - name: Compute
              CountDefault: 1
              ServicesDefault: [OS::TripleO::Services::NovaCompute]
            """.write(to: roles, atomically: true, encoding: .utf8)
        func env(computeTag: String) throws -> String {
            let file = work.appendingPathComponent("containers-prepare-\(computeTag).yaml")
            try """
                parameter_defaults:
                  ContainerImagePrepare:
                  - push_destination: \(destination.address)
                    includes: [keystone, nova-compute]
                    set: {namespace: \(source.address)/rolediff, name_prefix: openstack-, name_suffix: '', tag: '17.1'}
                  ComputeContainerImagePrepare:
                  - push_destination: \(destination.address)
                    includes: [nova-compute]
                    set: {namespace: \(source.address)/rolediff, name_prefix: openstack-, name_suffix: '', tag: '\(computeTag)'}
                """.write(to: file, atomically: true, encoding: .utf8)
            return file.path
        }
        func arguments(_ env: String) -> [String] {
            ["prepare", "-e", env, "-r", roles.path, "--catalog", "master", "--insecure-registry", source.address,
             "--insecure-registry", destination.address, "--cache-dir", work.appendingPathComponent("cache").path]
        }
        let deployed = work.appendingPathComponent("deployed-images.yaml")
        let prepared = try CLI.run(arguments(try env(computeTag: "17.1-hotfix")) + ["--output-env-file", deployed.path])
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        let target = "\(destination.address)/rolediff/openstack-"
        let deployedText = try String(contentsOf: deployed, encoding: .utf8)
        XCTAssertTrue(deployedText.contains("""
              ComputeParameters:
                ContainerNovaComputeImage: \(target)nova-compute:17.1-hotfix
                ContainerNovaLibvirtConfigImage: \(target)nova-compute:17.1-hotfix
            """), deployedText)

        // The same env: nothing differs, the role's two parameters counted and their digests compared.
        let same = try CLI.run(arguments(try env(computeTag: "17.1-hotfix")) + ["--diff", deployed.path])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertEqual(same.stdout, "No differences: 6 parameter(s) as in \(deployed.path) (digests compared for 6).\n")

        // The role's prepare moves to a new hotfix: its parameters, and only those, change.
        let hotfix2 = arguments(try env(computeTag: "17.1-hotfix2")) + ["--diff", deployed.path]
        let moved = try CLI.run(hotfix2)
        XCTAssertEqual(moved.status, 3, moved.stderr)
        XCTAssertEqual(moved.stdout, """
            ComputeParameters.ContainerNovaComputeImage: \(target)nova-compute:17.1-hotfix → \(target)nova-compute:17.1-hotfix2
            ComputeParameters.ContainerNovaLibvirtConfigImage: \(target)nova-compute:17.1-hotfix → \(target)nova-compute:17.1-hotfix2

            2 parameter(s) differ from \(deployed.path): 2 changed, 0 added, 0 removed, 0 new image(s) under the same tag; 4 unchanged (digests compared for 4).

            """)
        let json = try CLI.run(hotfix2 + ["--json"])
        XCTAssertEqual(json.status, 3, json.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let diff = try XCTUnwrap(object["diff"] as? [String: Any])
        XCTAssertEqual((diff["changed"] as? [[String: String]])?.map { $0["name"] }, [
            "ComputeParameters.ContainerNovaComputeImage", "ComputeParameters.ContainerNovaLibvirtConfigImage",
        ])
        XCTAssertEqual((object["parameters"] as? [String: String])?["ComputeParameters.ContainerNovaComputeImage"],
                       "\(target)nova-compute:17.1-hotfix2")

        // A deployed file from before the role had images of its own.
        let withoutRole = work.appendingPathComponent("without-role.yaml")
        try """
            parameter_defaults:
              ContainerKeystoneConfigImage: \(target)keystone:17.1
              ContainerKeystoneImage: \(target)keystone:17.1
              ContainerNovaComputeImage: \(target)nova-compute:17.1
              ContainerNovaLibvirtConfigImage: \(target)nova-compute:17.1

            """.write(to: withoutRole, atomically: true, encoding: .utf8)
        let added = try CLI.run(arguments(try env(computeTag: "17.1-hotfix")) + ["--diff", withoutRole.path])
        XCTAssertEqual(added.status, 3, added.stderr)
        XCTAssertTrue(added.stdout.hasPrefix("""
            ComputeParameters.ContainerNovaComputeImage: (not deployed) → \(target)nova-compute:17.1-hotfix
            ComputeParameters.ContainerNovaLibvirtConfigImage: (not deployed) → \(target)nova-compute:17.1-hotfix

            2 parameter(s) differ from \(withoutRole.path): 0 changed, 2 added, 0 removed
            """), added.stdout)
    }

    /// A deployed file that is not an earlier prepare's env file (here the prepare's own
    /// input) is one line naming it, before any registry is asked; `--diff` writes no file.
    func testABadDeployedFileIsOneLineAndDiffRefusesOutputFiles() throws {
        if let error = Self.setupError { throw error }
        let source = try XCTUnwrap(Self.source)
        let destination = try XCTUnwrap(Self.destination)
        let arguments = try prepareArguments(source, destination)
        let input = arguments[2]
        let before = destination.requests().count + source.requests().count
        let bad = try CLI.run(arguments + ["--diff", input])
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.stdout, "")
        XCTAssertEqual(
            bad.stderr,
            "Error: \(input): parameter_defaults: expected the image parameters of an earlier prepare's --output-env-file "
                + "(such as ContainerNovaApiImage: host/namespace/name:tag), found none\n")
        let missing = try CLI.run(arguments + ["--diff", work.appendingPathComponent("nope.yaml").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderr, "Error: \(work.appendingPathComponent("nope.yaml").path): cannot read: no such file\n")
        XCTAssertEqual(destination.requests().count + source.requests().count, before, "no registry was asked")

        let withOutput = try CLI.run(arguments + ["--diff", input, "--output-env-file", work.appendingPathComponent("out.yaml").path])
        XCTAssertEqual(withOutput.status, 2)
        XCTAssertTrue(withOutput.stderr.contains("--diff writes no file: drop --output-env-file"), withOutput.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("out.yaml").path))
    }
}
