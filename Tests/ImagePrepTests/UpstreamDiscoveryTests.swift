import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// Tag discovery as tripleo-common does it, against a real registry on
/// 127.0.0.1: a missing label keeps the given tag, a discovered tag must
/// exist at the source, and `--dry-run --discover` shows what a real run
/// writes.
final class UpstreamDiscoveryTests: XCTestCase {
    nonisolated(unsafe) static var registry: Result<RegistryServer, any Error>?

    /// nova-api carries `rdo_version: abc123` and has that tag; keystone's
    /// label names a tag the repository lacks; ceph's daemon has no labels.
    override class func setUp() {
        registry = Result {
            let server = try RegistryServer()
            let semaphore = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var failure: (any Error)?
            Task {
                do {
                    let client = RegistryClient(configuration: .init(insecureRegistries: [server.address]))
                    let repo = "\(server.address)/tripleomaster"
                    try await SyntheticImage.push(client, "\(repo)/centos-binary-nova-api:current-tripleo", labels: ["rdo_version": "abc123"], tags: ["abc123"])
                    try await SyntheticImage.push(client, "\(repo)/centos-binary-keystone:current-tripleo", labels: ["rdo_version": "def456"])
                    try await SyntheticImage.push(client, "\(server.address)/ceph/daemon:v4-nautilus", labels: [:])
                } catch {
                    failure = error
                }
                semaphore.signal()
            }
            semaphore.wait()
            if let failure {
                server.stop()
                throw failure
            }
            return server
        }
    }

    override class func tearDown() {
        try? registry?.get().stop()
    }

    var directory: URL!

    override func setUpWithError() throws {
        directory = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let template = """
        container_images_template:
        - imagename: "{{namespace}}/{{name_prefix}}nova-api{{name_suffix}}:{{tag}}"
          params: [DockerNovaApiImage]
        - imagename: "{{namespace}}/{{name_prefix}}keystone{{name_suffix}}:{{tag}}"
          params: [DockerKeystoneImage]
        - imagename: "{{ceph_namespace}}/{{ceph_image}}:{{ceph_tag}}"
          params: [DockerCephDaemonImage]

        """

    private func environment(_ address: String, entries: String) throws -> String {
        try write("cip.yaml", """
            parameter_defaults:
              DockerInsecureRegistryAddress: [\(address)]
              ContainerImagePrepare:
            \(entries)
            """)
    }

    private func entry(_ address: String, _ filter: String) -> String {
        """
          - tag_from_label: rdo_version
            \(filter)
            set: {namespace: \(address)/tripleomaster, name_prefix: centos-binary-, tag: current-tripleo,
                  ceph_namespace: \(address)/ceph, ceph_image: daemon, ceph_tag: v4-nautilus}
        """
    }

    func testAMissingLabelKeepsTheGivenTagAndTheOutputSaysWhich() throws {
        let server = try XCTUnwrap(Self.registry).get()
        let env = try environment(server.address, entries: entry(server.address, "excludes: [keystone]"))
        let template = try write("t.yaml.j2", Self.template)
        let out = directory.appendingPathComponent("env.yaml").path
        let result = try CLI.run(["prepare", "-e", env, "--template-file", template, "--output-env-file", out, "--no-cache"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), """
            parameter_defaults:
              DockerCephDaemonImage: \(server.address)/ceph/daemon:v4-nautilus
              DockerNovaApiImage: \(server.address)/tripleomaster/centos-binary-nova-api:abc123
              DockerInsecureRegistryAddress:
              - \(server.address)

            """)
        XCTAssertTrue(result.stderr.contains("\(server.address)/ceph/daemon:v4-nautilus"), result.stderr)
        XCTAssertTrue(result.stderr.contains("kept tag: no label rdo_version"), result.stderr)
        XCTAssertTrue(result.stderr.contains("1 image(s) kept their given tag"), result.stderr)
    }

    func testADiscoveredTagMissingAtTheSourceFailsThatImageNamingTheTags() async throws {
        let server = try XCTUnwrap(Self.registry).get()
        // Two entries over the same repository: its tags are listed once.
        let env = try environment(server.address, entries: entry(server.address, "includes: [keystone]") + "\n" + entry(server.address, "includes: [keystone]"))
        let template = try write("t.yaml.j2", Self.template)
        let out = directory.appendingPathComponent("env.yaml").path
        let before = server.requests().count
        let result = try CLI.run(["prepare", "-e", env, "--template-file", template, "--output-env-file", out, "--no-cache"])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(
            result.stderr.contains(
                "image \(server.address)/tripleomaster/centos-binary-keystone has no tag def456 (from tag_from_label rdo_version); available tags: current-tripleo"),
            result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let lists = try await server.requests(after: before).filter { $0.hasPrefix("GET /v2/tripleomaster/centos-binary-keystone/tags/list") }
        XCTAssertEqual(lists.count, 1, "one tags/list per repository")
    }

    func testDryRunWithDiscoverLooksUpTagsAndLabelsAndWritesWhatARealRunWrites() async throws {
        let server = try XCTUnwrap(Self.registry).get()
        let custom = directory.appendingPathComponent("custom")
        try FileManager.default.createDirectory(at: custom, withIntermediateDirectories: true)
        try "FROM base\nLABEL x=y\n".write(to: custom.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        // modify_only_with_labels: any one of the labels is enough (nova-api has rdo_version only).
        let env = try environment(server.address, entries: entry(server.address, "excludes: [keystone]") + """

                push_destination: \(server.address)
                modify_role: tripleo-modify-image
                modify_append_tag: -custom
                modify_only_with_labels: [no_such_label, rdo_version]
                modify_vars: {tasks_from: modify_image.yml, modify_dir_path: \(custom.path)}
            """)
        let template = try write("t.yaml.j2", Self.template)
        let out = directory.appendingPathComponent("env.yaml").path
        let before = server.requests().count
        let result = try CLI.run([
            "prepare", "-e", env, "--template-file", template, "--dry-run", "--discover", "--output-env-file", out, "--no-cache",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), """
            parameter_defaults:
              DockerCephDaemonImage: \(server.address)/ceph/daemon:v4-nautilus
              DockerNovaApiImage: \(server.address)/tripleomaster/centos-binary-nova-api:abc123-custom
              DockerInsecureRegistryAddress:
              - \(server.address)

            """)
        XCTAssertTrue(result.stdout.contains("modify: modify_image.yml"), result.stdout)
        XCTAssertTrue(result.stdout.contains("Dry run with --discover"), result.stdout)
        let requests = try await server.requests(after: before)
        XCTAssertFalse(requests.isEmpty)
        XCTAssertEqual(requests.filter { !$0.hasPrefix("GET ") && !$0.hasPrefix("HEAD ") }, [], "read-only")
    }
}

/// A one-layer image pushed through the registry client, under its tag and
/// any extra tags.
enum SyntheticImage {
    static func push(_ client: RegistryClient, _ name: String, labels: [String: String], tags: [String] = []) async throws {
        let reference = try Reference(name)
        let layer = Data(name.utf8)
        let layerDescriptor = try await client.pushBlob(layer, mediaType: .dockerLayer, to: reference)
        let config = try JSONEncoder().encode(
            ImageConfig(architecture: "amd64", os: "linux", config: ContainerConfig(user: "root", labels: labels)))
        let configDescriptor = try await client.pushBlob(config, mediaType: .dockerConfig, to: reference)
        let manifest = try JSONEncoder().encode(Manifest(config: configDescriptor, layers: [layerDescriptor]))
        for tag in [reference.tag ?? "latest"] + tags {
            _ = try await client.pushManifest(manifest, mediaType: .dockerManifest, to: reference.withTag(tag))
        }
    }
}
