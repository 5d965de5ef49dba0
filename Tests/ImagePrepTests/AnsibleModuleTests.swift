import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// imageprep's drop-in `tripleo_container_image_prepare` module (integrations/ansible, or the
/// installed copy beside an installed binary) run by real `ansible-playbook`: its result
/// against tripleo-ansible 6.0.0's own module with tripleo-common 18.0.0 on the same inputs
/// (dry run), and a real prepare against loopback docker-registry processes, with a role's
/// own `<Role>ContainerImagePrepare` written as `<Role>Parameters`.
final class AnsibleModuleTests: XCTestCase {
    /// apache2 serving an image-serve directory, started on the main thread (see ImageServeFixture).
    nonisolated(unsafe) static var imageServe: Result<ImageServeServer, any Error>?

    override class func setUp() {
        imageServe = Result { try ImageServeServer() }
    }

    override class func tearDown() {
        (try? imageServe?.get())?.stop()
    }

    nonisolated(unsafe) static let roles: [[String: Any]] = [
        ["name": "Controller", "CountDefault": 1,
         "ServicesDefault": ["OS::TripleO::Services::Keystone", "OS::TripleO::Services::NovaApi"]],
        ["name": "Compute", "CountDefault": 1,
         "ServicesDefault": ["OS::TripleO::Services::NovaCompute", "OS::TripleO::Services::NovaLibvirt"]],
        ["name": "Storage", "CountDefault": 0, "ServicesDefault": ["OS::TripleO::Services::CinderVolume"]],
    ]

    /// The module directory: the installed one beside an installed binary, else the tree's.
    static var moduleDirectory: String {
        if CLI.testsInstalledBinary {
            return CLI.binary.deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("share/imageprep/ansible/plugins/modules").path
        }
        return CLI.packageRoot.appendingPathComponent("integrations/ansible/modules").path
    }

    struct Playbook {
        var work: URL

        /// Runs the module with `arguments` (plus the environment and roles given) under
        /// ansible-playbook; returns the registered result.
        func run(
            environment: [String: Any], roles: [[String: Any]], arguments: [String: Any], library: String,
            extra: [String: String] = [:], interpreter: String = "/usr/bin/python3"
        ) throws -> [String: Any] {
            let name = UUID().uuidString.prefix(8)
            let environmentFile = work.appendingPathComponent("env-\(name).json")
            let rolesFile = work.appendingPathComponent("roles-\(name).json")
            let resultFile = work.appendingPathComponent("result-\(name).json")
            try JSONSerialization.data(withJSONObject: environment).write(to: environmentFile)
            try JSONSerialization.data(withJSONObject: roles).write(to: rolesFile)
            var moduleArguments = arguments.map { "      \($0.key): \(String(decoding: try! JSONSerialization.data(withJSONObject: $0.value, options: .fragmentsAllowed), as: UTF8.self))" }
            moduleArguments.append("      environment: \"{{ lookup('file', '\(environmentFile.path)') | from_json }}\"")
            moduleArguments.append("      roles_data: \"{{ lookup('file', '\(rolesFile.path)') | from_json }}\"")
            let playbook = work.appendingPathComponent("play-\(name).yaml")
            try """
                - hosts: localhost
                  gather_facts: false
                  tasks:
                  - name: prepare
                    tripleo_container_image_prepare:
                \(moduleArguments.sorted().joined(separator: "\n"))
                    register: result
                    ignore_errors: true
                  - copy:
                      content: "{{ result | to_json }}"
                      dest: \(resultFile.path)

                """.write(to: playbook, atomically: true, encoding: .utf8)
            var variables: [String: String] = [:]
            variables["ANSIBLE_LIBRARY"] = library
            variables["ANSIBLE_LOCAL_TEMP"] = work.appendingPathComponent("ansible-tmp").path
            variables["ANSIBLE_NOCOLOR"] = "1"
            variables["IMAGEPREP_BINARY"] = CLI.binary.path
            variables.merge(extra) { _, new in new }
            let run = try CLI.runProcess(
                URL(fileURLWithPath: "/usr/bin/ansible-playbook"),
                ["-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=\(interpreter)", playbook.path],
                environment: variables)
            XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
            let data = try Data(contentsOf: resultFile)
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
    }

    func testDryRunReturnsWhatTheUpstreamModuleReturns() throws {
        let python = try UpstreamVenv.python()
        let upstream = python.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("upstream-ansible")
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let entry: [String: Any] = [
            "push_destination": true,
            "set": ["namespace": "quay.io/tripleomastercentos9", "name_prefix": "openstack-", "name_suffix": "", "tag": "current-tripleo"],
            "excludes": ["cinder"],
        ]
        let environment: [String: Any] = [
            "parameter_defaults": [
                "LocalContainerRegistry": "192.168.24.1",
                "ContainerImagePrepare": [entry],
                // The Compute role's own images: a hotfix tag, and a modification.
                "ComputeContainerImagePrepare": [[
                    "push_destination": true,
                    "set": ["namespace": "quay.io/tripleomastercentos9", "name_prefix": "openstack-", "name_suffix": "", "tag": "current-tripleo"],
                    "includes": ["nova-compute"],
                    "modify_role": "tripleo-modify-image", "modify_append_tag": "-hotfix",
                    "modify_vars": ["tasks_from": "yum_update.yml"],
                ]],
                // A role without nodes: its prepare is run all the same, as upstream does.
                "StorageContainerImagePrepare": [entry],
            ] as [String: Any],
        ]
        let playbook = Playbook(work: work)
        let arguments: [String: Any] = ["dry_run": true, "cleanup": "partial"]
        let theirs = try playbook.run(
            environment: environment, roles: Self.roles, arguments: arguments,
            library: upstream.appendingPathComponent("modules").path,
            extra: ["ANSIBLE_COLLECTIONS_PATH": upstream.appendingPathComponent("collections").path], interpreter: python.path)
        let ours = try playbook.run(environment: environment, roles: Self.roles, arguments: arguments, library: Self.moduleDirectory)
        XCTAssertEqual(theirs["failed"] as? Bool, false, "\(theirs)")
        XCTAssertEqual(ours["failed"] as? Bool, false, "\(ours)")
        let theirParams = try XCTUnwrap(theirs["params"] as? [String: Any])
        let ourParams = try XCTUnwrap(ours["params"] as? [String: Any])
        XCTAssertEqual(NSDictionary(dictionary: ourParams), NSDictionary(dictionary: theirParams))
        let defaults = try XCTUnwrap(ourParams["parameter_defaults"] as? [String: Any])
        XCTAssertEqual((defaults["ComputeParameters"] as? [String: Any])?["ContainerNovaComputeImage"] as? String,
                       "192.168.24.1:8787/tripleomastercentos9/openstack-nova-compute:current-tripleo-hotfix")
        XCTAssertNotNil(defaults["StorageParameters"], "\(defaults.keys.sorted())")
        XCTAssertEqual(defaults["ContainerKeystoneImage"] as? String, "192.168.24.1:8787/tripleomastercentos9/openstack-keystone:current-tripleo")
        XCTAssertEqual(ours["changed"] as? Bool, true)
        XCTAssertEqual(ours["success"] as? Bool, true)

        // imageprep prepare itself writes the same <Role>Parameters into its env file.
        let environmentFile = work.appendingPathComponent("environment.json")
        let rolesFile = work.appendingPathComponent("roles.json")
        try JSONSerialization.data(withJSONObject: environment).write(to: environmentFile)
        try JSONSerialization.data(withJSONObject: Self.roles).write(to: rolesFile)
        let output = work.appendingPathComponent("out-env.yaml")
        let prepare = try CLI.run(["prepare", "-e", environmentFile.path, "-r", rolesFile.path, "--catalog", "master", "--dry-run",
                                   "--output-env-file", output.path])
        XCTAssertEqual(prepare.status, 0, prepare.stderr)
        let written = try String(contentsOf: output, encoding: .utf8)
        XCTAssertTrue(written.contains("""
              ComputeParameters:
                ContainerNovaComputeImage: 192.168.24.1:8787/tripleomastercentos9/openstack-nova-compute:current-tripleo-hotfix
            """), written)
        XCTAssertTrue(prepare.stdout.contains("written as ComputeParameters (ComputeContainerImagePrepare)"), prepare.stdout)
    }

    func testModulePreparesAgainstLoopbackRegistriesAndFailsNamingTheImage() async throws {
        let source = try RegistryServer()
        defer { source.stop() }
        let destination = try RegistryServer()
        defer { destination.stop() }
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let client = RegistryClient(configuration: RegistryClient.Configuration(insecureRegistries: [source.address]))
        for (name, tag) in [("keystone", "17.1"), ("nova-compute", "17.1"), ("nova-compute", "17.1-hotfix")] {
            let reference = Reference(registry: source.address, repository: "tripleomaster/openstack-\(name)", tag: tag)
            let layer = try await client.pushBlob(Data("\(name):\(tag)".utf8), mediaType: .dockerLayer, to: reference)
            let config = try await client.pushBlob(
                Data(#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#.utf8),
                mediaType: .dockerConfig, to: reference)
            let manifest = Manifest(mediaType: .dockerManifest, config: config, layers: [layer])
            try await client.pushManifest(try JSONEncoder().encode(manifest), mediaType: .dockerManifest, to: reference)
        }
        func entry(_ tag: String, _ includes: [String]) -> [String: Any] {
            ["push_destination": destination.address, "includes": includes,
             "set": ["namespace": "\(source.address)/tripleomaster", "name_prefix": "openstack-", "name_suffix": "", "tag": tag]]
        }
        let log = work.appendingPathComponent("prepare.log")
        let environment: [String: Any] = ["parameter_defaults": [
            "ContainerImagePrepare": [entry("17.1", ["keystone", "nova-compute"])],
            "ComputeContainerImagePrepare": [entry("17.1-hotfix", ["nova-compute"])],
            "DockerInsecureRegistryAddress": [source.address, destination.address],
        ] as [String: Any]]
        let playbook = Playbook(work: work)
        let result = try playbook.run(
            environment: environment, roles: Self.roles, arguments: ["cleanup": "full", "log_file": log.path],
            library: Self.moduleDirectory)
        XCTAssertEqual(result["failed"] as? Bool, false, "\(result)")
        let defaults = try XCTUnwrap((result["params"] as? [String: Any])?["parameter_defaults"] as? [String: Any])
        XCTAssertEqual(defaults["ContainerKeystoneImage"] as? String, "\(destination.address)/tripleomaster/openstack-keystone:17.1")
        XCTAssertEqual(defaults["ContainerNovaComputeImage"] as? String, "\(destination.address)/tripleomaster/openstack-nova-compute:17.1")
        XCTAssertEqual((defaults["ComputeParameters"] as? [String: Any])?["ContainerNovaComputeImage"] as? String,
                       "\(destination.address)/tripleomaster/openstack-nova-compute:17.1-hotfix")
        let pushed = RegistryClient(configuration: RegistryClient.Configuration(insecureRegistries: [destination.address]))
        let tags = try await pushed.listTags(Reference(registry: destination.address, repository: "tripleomaster/openstack-nova-compute"))
        XCTAssertEqual(tags.sorted(), ["17.1", "17.1-hotfix"])
        let logged = try String(contentsOf: log, encoding: .utf8)
        XCTAssertTrue(logged.contains("openstack-nova-compute:17.1-hotfix"), logged)

        // An image the source lacks: the task fails, its message naming the image.
        var missing = environment
        missing["parameter_defaults"] = ["ContainerImagePrepare": [entry("17.1", ["keystone", "glance-api"])],
                                         "DockerInsecureRegistryAddress": [source.address, destination.address]]
        let failed = try playbook.run(environment: missing, roles: Self.roles + [[
            "name": "Glance", "CountDefault": 1, "ServicesDefault": ["OS::TripleO::Services::GlanceApi"]]],
            arguments: [:], library: Self.moduleDirectory)
        XCTAssertEqual(failed["failed"] as? Bool, true, "\(failed)")
        let message = try XCTUnwrap(failed["msg"] as? String)
        XCTAssertTrue(message.hasPrefix("Error running container image prepare: "), message)
        XCTAssertTrue(message.contains("\(source.address)/tripleomaster/openstack-glance-api:17.1"), message)
        XCTAssertEqual(failed["params"] as? [String: String], [:])
        XCTAssertFalse("\(failed)".contains("imageprep-module-"), "no temp path in the result: \(failed)")

        // A cleanup upstream does not know: refused as upstream refuses it.
        let badCleanup = try playbook.run(environment: environment, roles: Self.roles, arguments: ["cleanup": "some"], library: Self.moduleDirectory)
        XCTAssertEqual(badCleanup["msg"] as? String, "Error running container image prepare: --cleanup must be one of: full, partial, none")
    }

    /// The undercloud's own path: the module's push destination is image-serve on apache2, the
    /// images written into its directory; what httpd then serves is the source's images,
    /// digest for digest, under the tags the returned params name.
    func testModulePreparesIntoImageServeServedByApache() async throws {
        let imageServe = try XCTUnwrap(Self.imageServe).get()
        let source = try RegistryServer()
        defer { source.stop() }
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let client = RegistryClient(configuration: RegistryClient.Configuration(insecureRegistries: [source.address]))
        var digests: [String: Digest] = [:]
        for (name, tag) in [("keystone", "17.1"), ("nova-compute", "17.1"), ("nova-compute", "17.1-hotfix")] {
            let reference = Reference(registry: source.address, repository: "tripleomaster/openstack-\(name)", tag: tag)
            let base = try await client.pushBlob(ImageServeFixture.layer("base", size: 64 * 1024), mediaType: .dockerLayer, to: reference)
            let layer = try await client.pushBlob(Data("\(name):\(tag)".utf8), mediaType: .dockerLayer, to: reference)
            let config = try await client.pushBlob(
                Data(#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#.utf8),
                mediaType: .dockerConfig, to: reference)
            let manifest = Manifest(mediaType: .dockerManifest, config: config, layers: [base, layer])
            digests["\(name):\(tag)"] = try await client.pushManifest(
                try JSONEncoder().encode(manifest), mediaType: .dockerManifest, to: reference)
        }
        func entry(_ tag: String, _ includes: [String]) -> [String: Any] {
            ["push_destination": imageServe.address, "includes": includes,
             "set": ["namespace": "\(source.address)/tripleomaster", "name_prefix": "openstack-", "name_suffix": "", "tag": tag]]
        }
        let environment: [String: Any] = ["parameter_defaults": [
            "ContainerImagePrepare": [entry("17.1", ["keystone", "nova-compute"])],
            "ComputeContainerImagePrepare": [entry("17.1-hotfix", ["nova-compute"])],
            "DockerInsecureRegistryAddress": [source.address, imageServe.address],
        ] as [String: Any]]
        let result = try Playbook(work: work).run(
            environment: environment, roles: Self.roles, arguments: ["image_serve_dir": imageServe.root.path],
            library: Self.moduleDirectory)
        XCTAssertEqual(result["failed"] as? Bool, false, "\(result)")
        let defaults = try XCTUnwrap((result["params"] as? [String: Any])?["parameter_defaults"] as? [String: Any])
        let keystone = try XCTUnwrap(defaults["ContainerKeystoneImage"] as? String)
        let compute = try XCTUnwrap(defaults["ContainerNovaComputeImage"] as? String)
        let hotfix = try XCTUnwrap((defaults["ComputeParameters"] as? [String: Any])?["ContainerNovaComputeImage"] as? String)
        XCTAssertEqual(keystone, "\(imageServe.address)/tripleomaster/openstack-keystone:17.1")
        XCTAssertEqual(compute, "\(imageServe.address)/tripleomaster/openstack-nova-compute:17.1")
        XCTAssertEqual(hotfix, "\(imageServe.address)/tripleomaster/openstack-nova-compute:17.1-hotfix")

        // What apache2 serves: each image at its source digest, its blobs whole.
        let served = RegistryClient(configuration: RegistryClient.Configuration(insecureRegistries: [imageServe.address]))
        for (name, reference) in [("keystone:17.1", keystone), ("nova-compute:17.1", compute), ("nova-compute:17.1-hotfix", hotfix)] {
            let fetched = try await served.fetchManifest(try Reference(reference))
            XCTAssertEqual(fetched.digest, digests[name], reference)
            let manifest = try JSONDecoder().decode(Manifest.self, from: fetched.bytes)
            for blob in manifest.layers + [manifest.config] {
                // fetchBlob checks the digest of what httpd sent.
                let size = try await served.fetchBlob(try Reference(reference), descriptor: blob) { _ in }
                XCTAssertEqual(size, blob.size, "\(reference) \(blob.digest)")
            }
        }
        let tags = try await served.listTags(Reference(registry: imageServe.address, repository: "tripleomaster/openstack-nova-compute"))
        XCTAssertEqual(tags.sorted(), ["17.1", "17.1-hotfix"])
    }
}
