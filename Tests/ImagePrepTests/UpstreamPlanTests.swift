import Foundation
import ImagePrep
import ImagePrepTestSupport
import XCTest

/// Where the seed is silent, `prepare` plans as tripleo-common 18.0.0 and
/// heatclient do. Dry runs through the built binary: no network.
final class UpstreamPlanTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    @discardableResult
    private func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    private func read(_ name: String) throws -> String { try String(contentsOfFile: path(name), encoding: .utf8) }

    static let smallTemplate = CLI.fixture("small_containers.yaml.j2")

    // MARK: Heat environment files

    func testAnUnknownTopLevelSectionIsAnErrorNamingFileAndSection() throws {
        // The seed's snippet pasted without parameter_defaults, and a typo.
        let pasted = try write("pasted.yaml", """
            ContainerImagePrepare:
            - push_destination: true
            """)
        let typo = try write("typo.yaml", """
            parameter_default:
              ContainerImagePrepare: []
            """)
        for (file, section) in [(pasted, "ContainerImagePrepare"), (typo, "parameter_default")] {
            let result = try CLI.run(["prepare", "-e", file, "--dry-run"])
            XCTAssertEqual(result.status, 1, result.stdout)
            XCTAssertEqual(
                result.stderr,
                "Error: \(file): \(section): not a heat environment section; a heat environment has parameter_defaults, parameters, resource_registry, encrypted_param_names, event_sinks, parameter_merge_strategies\n")
            XCTAssertEqual(result.stdout, "")
        }
    }

    func testLaterFilesMergeMappingByMappingAndReplaceLists() async throws {
        let first = try write("one.yaml", """
            parameter_defaults:
              ContainerImageRegistryCredentials:
                registry-a.example:5000: {alice: secret-a}
              ContainerImagePrepare:
              - push_destination: 192.168.24.1:8787
                excludes: [nova]
            """)
        let second = try write("two.yaml", """
            parameter_defaults:
              ContainerImageRegistryCredentials:
                registry-b.example:5000: {bob: secret-b}
              ContainerImagePrepare:
              - push_destination: 192.168.24.2:8787
                includes: [nova-compute]
            """)
        let third = try write("three.yaml", """
            parameter_defaults:
              ContainerImageRegistryCredentials:
            """)
        var options = PrepareOptions()
        options.environmentFiles = [first, second, third]
        options.templateFile = Self.smallTemplate
        options.dryRun = true
        let plan = try PrepareWorkflow(options: options).loadPlan()
        // Both registries' credentials; the null of the third file wipes nothing.
        XCTAssertEqual(plan.registry.credentials.keys.sorted(), ["registry-a.example:5000", "registry-b.example:5000"])
        XCTAssertEqual(plan.registry.credentials["registry-b.example:5000"]?.user, "bob")
        // The list is replaced: only the second file's one entry.
        XCTAssertEqual(plan.images.map(\.imageName), ["docker.io/tripleomaster/centos-binary-nova-compute:current-tripleo"])
        XCTAssertEqual(plan.images.map(\.pushDestination), ["192.168.24.2:8787"])
    }

    func testEnvironmentDirectoriesLoadBeforeTheEnvironmentFilesSortedByName() throws {
        try write("dir1/20-late.yaml", "parameter_defaults:\n  ContainerImagePrepare:\n  - push_destination: 10.0.0.20:8787\n")
        try write("dir1/10-early.yaml", "parameter_defaults:\n  ContainerImagePrepare:\n  - push_destination: 10.0.0.10:8787\n")
        try write("dir1/99-ignored.yml", "parameter_defaults:\n  ContainerImagePrepare:\n  - push_destination: 10.0.0.99:8787\n")
        try write("dir2/00-second-dir.yaml", "parameter_defaults:\n  LocalContainerRegistry: 10.0.0.5\n")
        let explicit = try write("explicit.yaml", "parameter_defaults:\n  ContainerImagePrepare:\n  - push_destination: 10.0.0.1:8787\n")
        // The -e file wins over every directory file, wherever it is given.
        var result = try CLI.run([
            "prepare", "-e", explicit, "--environment-directory", path("dir1"), "--environment-directory", path("dir2"),
            "--template-file", Self.smallTemplate, "--dry-run", "--json",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("\"push_destination\" : \"10.0.0.1:8787\""), result.stdout)
        XCTAssertTrue(result.stdout.contains("\"local_registry\" : \"10.0.0.5\""), result.stdout)
        // Without -e: the directory's files by name, the last (20-late) winning; .yml is not read.
        result = try CLI.run([
            "prepare", "--environment-directory", path("dir1"), "--template-file", Self.smallTemplate, "--dry-run", "--json",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("\"push_destination\" : \"10.0.0.20:8787\""), result.stdout)
        XCTAssertFalse(result.stdout.contains("10.0.0.99"), result.stdout)
    }
}
