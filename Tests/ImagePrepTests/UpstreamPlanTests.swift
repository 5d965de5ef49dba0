import Foundation
import ImagePrep
import ImagePrepPlan
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

    func testAnAliasBombIsOneLineNamingTheFileNotGigabytes() throws {
        // Nine levels of ten aliases: under 500 bytes, a billion values expanded
        // (it grew past 2.4 GB in 30 s before aliases were bounded).
        var lines = ["parameter_defaults:", "  L0: &a0 [\(Array(repeating: "x", count: 10).joined(separator: ","))]"]
        for level in 1..<9 {
            lines.append("  L\(level): &a\(level) [\(Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ","))]")
        }
        let text = lines.joined(separator: "\n") + "\n"
        let bomb = try write("bomb.yaml", text)
        let watched = try CLI.run(["prepare", "-e", bomb, "--dry-run"], timeout: 60)
        XCTAssertFalse(watched.timedOut)
        XCTAssertEqual(watched.output.status, 1, watched.output.stdout)
        XCTAssertEqual(
            watched.output.stderr,
            "Error: \(bomb): YAML aliases expand this document past \(200_000 + text.utf8.count) values (an alias bomb?); nothing was read\n")
        XCTAssertEqual(watched.output.stdout, "")
    }

    func testATagFromLabelThatStrFormatRejectsIsAnErrorBeforeAnyLookUp() throws {
        // Upstream formats tag_from_label with str.format: '{version:+}' raises there.
        let env = try write("fmt.yaml", """
            parameter_defaults:
              ContainerImagePrepare:
              - tag_from_label: "{version:+}-{release}"
            """)
        let result = try CLI.run(["prepare", "-e", env, "--template-file", Self.smallTemplate, "--dry-run"])
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertEqual(
            result.stderr,
            "Error: \(env): ContainerImagePrepare[0].tag_from_label: invalid tag_from_label '{version:+}-{release}': str.format: Sign not allowed in string format specifier\n")
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

    // MARK: Output

    func testDockerInsecureRegistryAddressListsHostAndPortOnly() throws {
        let env = try write("cip.yaml", """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: 192.168.24.1:8787/
                includes: [nova-compute]
              - push_destination: 192.168.24.3:8787/mirror
                includes: [ceph]
            """)
        let result = try CLI.run([
            "prepare", "-e", env, "--template-file", Self.smallTemplate, "--dry-run", "--output-env-file", path("out.yaml"),
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let out = try read("out.yaml")
        XCTAssertTrue(out.hasSuffix("""
              DockerInsecureRegistryAddress:
              - 192.168.24.1:8787
              - 192.168.24.3:8787

            """), out)
    }

    // MARK: Templates and roles

    /// The shape of the final era's template: Container*Image parameters and
    /// images whose variables only that era's defaults give.
    static let finalEraTemplate = """
        container_images_template:
        - imagename: "{{namespace}}/{{name_prefix}}nova-api{{name_suffix}}:{{tag}}"
          params: [ContainerNovaApiImage]
        - imagename: "{{pushgateway_namespace}}/{{pushgateway_image}}:{{pushgateway_tag}}"
          params: [ContainerPushgatewayImage]
        - imagename: "{{ceph_haproxy_namespace}}/{{ceph_haproxy_image}}:{{ceph_haproxy_tag}}"
          params: [ContainerCephHaproxyImage]

        """

    func testAFinalEraTemplateRendersWithTheFinalErasDefaults() throws {
        let template = try write("tripleo_containers.yaml.j2", Self.finalEraTemplate)
        let env = try write("cip.yaml", "parameter_defaults:\n  ContainerImagePrepare:\n  - push_destination: 192.168.24.1:8787\n")
        let result = try CLI.run(["prepare", "-e", env, "--template-file", template, "--dry-run", "--output-env-file", path("out.yaml")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try read("out.yaml"), """
            parameter_defaults:
              ContainerCephHaproxyImage: 192.168.24.1:8787/ceph/haproxy:2.3
              ContainerNovaApiImage: 192.168.24.1:8787/tripleomastercentos9/openstack-nova-api:current-tripleo
              ContainerPushgatewayImage: 192.168.24.1:8787/prometheus/pushgateway:v1.4.2
              DockerInsecureRegistryAddress:
              - 192.168.24.1:8787

            """)
        // With --catalog stein chosen, the stein defaults lack them: an error, not 'localhost:8787//:'.
        let chosen = try CLI.run(["prepare", "-e", env, "--template-file", template, "--catalog", "stein", "--dry-run"])
        XCTAssertEqual(chosen.status, 1)
        XCTAssertEqual(chosen.stderr, "Error: \(template):4: 'pushgateway_namespace' is not defined: no 'set' value or catalog default gives it\n")
    }

    func testAVariableNothingDefinesIsAnErrorNamingTemplateLineAndVariable() throws {
        let template = try write("mine.yaml.j2", """
            container_images_template:
            - imagename: "{{namespace}}/{{name_prefix}}nova-api{{name_suffix}}:{{tag}}"
              params: [DockerNovaApiImage]
            - imagename: "{{namespace}}/{{my_image}}:{{tag}}"
              params: [DockerMineImage]

            """)
        let env = try write("cip.yaml", "parameter_defaults: {}\n")
        let result = try CLI.run(["prepare", "-e", env, "--template-file", template, "--dry-run"])
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertEqual(result.stderr, "Error: \(template):4: 'my_image' is not defined: no 'set' value or catalog default gives it\n")
        XCTAssertEqual(result.stdout, "")
    }

    func testTheHeatTemplatesRolesFileIsTheDefaultAndTheRunSaysWhichWasUsed() throws {
        let templates = directory.appendingPathComponent("tht")
        try FileManager.default.createDirectory(at: templates, withIntermediateDirectories: true)
        let env = try write("cip.yaml", "parameter_defaults:\n  ComputeCount: 0\n")
        var options = PrepareOptions()
        options.environmentFiles = [env]
        options.templateFile = Self.smallTemplate
        options.dryRun = true
        options.heatTemplatesDirectory = templates.path
        // No roles_data.yaml there: no filter.
        XCTAssertNil(PrepareWorkflow(options: options).rolesFile())
        let all = try PrepareWorkflow(options: options).loadPlan().images.count
        // The standard one present: it filters.
        let standard = templates.appendingPathComponent("roles_data.yaml").path
        try FileManager.default.copyItem(atPath: CLI.fixture("roles_data.yaml"), toPath: standard)
        XCTAssertEqual(PrepareWorkflow(options: options).rolesFile(), standard)
        let filtered = try PrepareWorkflow(options: options).loadPlan().images.count
        XCTAssertLessThan(filtered, all)
        // -r relative to the heat templates, as tripleoclient resolves it.
        options.rolesFile = "roles_data.yaml"
        XCTAssertEqual(PrepareWorkflow(options: options).rolesFile(), standard)

        // -r on the command line; the plan names the roles file.
        let result = try CLI.run(["prepare", "-e", env, "-r", CLI.fixture("roles_data.yaml"), "--template-file", Self.smallTemplate, "--dry-run"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("Roles file: \(CLI.fixture("roles_data.yaml")) (only images of services enabled on roles with nodes)."), result.stdout)
    }

    // MARK: Checks a dry run makes

    func testDryRunFindsABadTagFromLabelAndMissingModifyPaths() throws {
        let badTemplate = try write("bad-tag.yaml", """
            parameter_defaults:
              ContainerImagePrepare:
              - tag_from_label: "{version}-{release"
            """)
        var result = try CLI.run(["prepare", "-e", badTemplate, "--template-file", Self.smallTemplate, "--dry-run"])
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertEqual(result.stderr, "Error: \(badTemplate): ContainerImagePrepare[0].tag_from_label: invalid tag_from_label '{version}-{release': '{' without a matching '}'\n")

        for (task, key) in [
            ("{tasks_from: rpm_install.yml, rpms_path: /nonexistent/rpms}", "rpms_path"),
            ("{tasks_from: modify_image.yml, modify_dir_path: /nonexistent/rpms}", "modify_dir_path"),
            ("{tasks_from: yum_update.yml, yum_repos_dir_path: /nonexistent/rpms}", "yum_repos_dir_path"),
        ] {
            let env = try write("modify.yaml", """
                parameter_defaults:
                  ContainerImagePrepare:
                  - push_destination: 192.168.24.1:8787
                    modify_role: tripleo-modify-image
                    modify_vars: \(task)
                """)
            result = try CLI.run(["prepare", "-e", env, "--template-file", Self.smallTemplate, "--dry-run"])
            XCTAssertEqual(result.status, 1, result.stdout)
            XCTAssertEqual(result.stderr, "Error: \(env): ContainerImagePrepare[0].modify_vars.\(key): /nonexistent/rpms does not exist\n")
        }
        // Checked too when the entry's first images are not modified (modify_only_with_source).
        let onlyCeph = try write("only-ceph.yaml", """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: 192.168.24.1:8787
                modify_role: tripleo-modify-image
                modify_only_with_source: [ceph]
                modify_vars: {tasks_from: rpm_install.yml, rpms_path: /nonexistent/rpms}
            """)
        result = try CLI.run(["prepare", "-e", onlyCeph, "--template-file", Self.smallTemplate, "--dry-run"])
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertEqual(result.stderr, "Error: \(onlyCeph): ContainerImagePrepare[0].modify_vars.rpms_path: /nonexistent/rpms does not exist\n")
    }

    // MARK: Multi-arch and deprecated keys

    func testModifyingAMultiArchImageIsRefusedBeforeAnythingIsBuilt() throws {
        let custom = directory.appendingPathComponent("custom")
        try FileManager.default.createDirectory(at: custom, withIntermediateDirectories: true)
        try "FROM x\n".write(to: custom.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        let env = try write("cip.yaml", """
            parameter_defaults:
              AdditionalArchitectures: [ppc64le]
              ContainerImagePrepare:
              - push_destination: 192.168.24.1:8787
                includes: [nova-compute]
                modify_role: tripleo-modify-image
                modify_vars: {tasks_from: modify_image.yml, modify_dir_path: \(custom.path)}
            """)
        var result = try CLI.run(["prepare", "-e", env, "--template-file", Self.smallTemplate, "--dry-run"])
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(
            result.stderr.hasPrefix(
                "Error: \(env): ContainerImagePrepare[0]: Cannot run a modify role on multi-arch image docker.io/tripleomaster/centos-binary-nova-compute:current-tripleo"),
            result.stderr)
        // A multi_arch key makes the entry single-arch, as upstream: accepted.
        try write("cip.yaml", try String(contentsOfFile: env, encoding: .utf8).replacingOccurrences(
            of: "  - push_destination", with: "  - multi_arch: false\n    push_destination"))
        result = try CLI.run(["prepare", "-e", env, "--template-file", Self.smallTemplate, "--dry-run"])
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    func testMultiArchAndPullSourceKeysAreAcceptedWithUpstreamsEffect() throws {
        let env = try write("cip.yaml", """
            parameter_defaults:
              AdditionalArchitectures: [ppc64le]
              ContainerImagePrepare:
              - push_destination: 192.168.24.1:8787
                includes: [nova-api]
              - push_destination: 192.168.24.1:8787
                includes: [nova-compute]
                multi_arch: true
              - push_destination: 192.168.24.1:8787
                includes: [neutron]
                pull_source: mirror.example:5000/
            """)
        var options = PrepareOptions()
        options.environmentFiles = [env]
        options.templateFile = Self.smallTemplate
        let plan = try PrepareWorkflow(options: options).loadPlan()
        // Multi-arch until an entry has the key (whatever its value); from it on, single-arch.
        XCTAssertEqual(plan.images.map(\.multiArch), [true, false, false])
        XCTAssertEqual(plan.images.map(\.pullSource), [nil, nil, "mirror.example:5000"])
        XCTAssertEqual(plan.images[2].pullName, "mirror.example:5000/docker.io/tripleomaster/centos-binary-neutron-server-ovn:current-tripleo")

        let result = try CLI.run([
            "prepare", "-e", env, "--template-file", Self.smallTemplate, "--dry-run", "--output-images-file", path("images.yaml"),
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        // The images file carries it, as upstream's upload data does.
        let images = try read("images.yaml")
        XCTAssertTrue(images.contains("  pull_source: mirror.example:5000\n"), images)
        XCTAssertEqual(
            result.stderr,
            "Warning: \(env): ContainerImagePrepare[2].pull_source is deprecated: images are pulled from mirror.example:5000/<image name>; put the registry in 'set' (namespace) instead\n")
    }
}
