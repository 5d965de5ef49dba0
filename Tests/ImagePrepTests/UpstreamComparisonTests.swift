import Foundation
import ImagePrep
import ImagePrepPlan
import ImagePrepTestSupport
import XCTest

/// The same inputs planned by imageprep and by tripleo-common 18.0.0 itself
/// (`kolla_builder.container_images_prepare_multi(..., dry_run=True)` in the
/// venv `scripts/upstream-venv` makes): the image parameters must be equal.
/// No network: see Fixtures/upstream_prepare.py.
final class UpstreamComparisonTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// tripleo-common's own template, from the venv.
    private func upstreamTemplate(_ python: URL) -> String {
        python.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("share/tripleo-common/container-images/tripleo_containers.yaml.j2").path
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func upstreamParameters(
        _ python: URL, template: String, insecure: [String], files: [String], roles: String? = nil
    ) throws -> [String: String] {
        let result = try CLI.runProcess(
            python,
            [CLI.fixture("upstream_prepare.py")] + (roles.map { ["--roles", $0] } ?? []) + [template, insecure.joined(separator: ",")]
                + files)
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        return object.mapValues { value in
            (value as? String) ?? ((value as? [String])?.joined(separator: ",") ?? "\(value)")
        }
    }

    private func imageprepParameters(_ arguments: [String]) throws -> [String: String] {
        let out = directory.appendingPathComponent("imageprep-env.yaml").path
        let result = try CLI.run(["prepare"] + arguments + ["--dry-run", "--output-env-file", out])
        XCTAssertEqual(result.status, 0, result.stderr)
        let document = try ConfigDocument.parse(try String(contentsOfFile: out, encoding: .utf8), file: out)
        guard case .map(let entries)? = document["parameter_defaults"] else { return [:] }
        var parameters: [String: String] = [:]
        for entry in entries {
            switch entry.value {
            case .list(let items): parameters[entry.key] = items.compactMap(\.scalarText).joined(separator: ",")
            default: parameters[entry.key] = entry.value.scalarText ?? ""
            }
        }
        return parameters
    }

    private func assertSame(
        _ upstream: [String: String], _ imageprep: [String: String], atLeast: Int = 10, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertGreaterThanOrEqual(upstream.count, atLeast, file: file, line: line)
        for key in Set(upstream.keys).union(imageprep.keys).sorted() where upstream[key] != imageprep[key] {
            XCTFail("\(key): tripleo-common \(upstream[key] ?? "(none)"), imageprep \(imageprep[key] ?? "(none)")", file: file, line: line)
        }
    }

    /// Several entries over two files: includes/excludes, push destinations,
    /// set values, neutron driver derived from
    /// NeutronMechanismDrivers, modify_only_with_source with an append tag,
    /// the multi_arch key, a later entry winning, and deep-merged credentials.
    func testTheFinalEraTemplateGivesTripleoCommonsParameters() throws {
        let python = try UpstreamVenv.python()
        let first = try write("one.yaml", """
            parameter_defaults:
              NeutronMechanismDrivers: [openvswitch]
              ContainerImageRegistryCredentials:
                quay.io: {someone: secret}
              ContainerImagePrepare:
              - push_destination: 192.168.24.9:8787
            """)
        let second = try write("two.yaml", """
            parameter_defaults:
              AdditionalArchitectures: [ppc64le]
              ContainerImageRegistryCredentials:
                registry.example: {other: secret}
              ContainerImagePrepare:
              - push_destination: 192.168.24.1:8787
                excludes: [nova-api, ceph, haproxy]
                set:
                  namespace: quay.io/tripleowallaby
                  name_prefix: openstack-
                  tag: "17.1"
              - push_destination: 192.168.24.1:8787
                includes: [nova-api]
                multi_arch: false
                set:
                  namespace: quay.io/tripleowallaby
                  name_prefix: openstack
                  name_suffix: hotfix
                  tag: myhotfix
                modify_role: tripleo-modify-image
                modify_append_tag: -updated
                modify_only_with_source: [tripleo]
                modify_vars: {tasks_from: yum_update.yml, yum_repos_dir_path: /etc}
              - includes: [ceph, grafana]
                set:
                  ceph_namespace: registry.example/ceph
                  ceph_tag: v6
            """)
        let template = upstreamTemplate(python)
        let insecure = ["192.168.24.1:8787", "192.168.24.9:8787"]
        let upstream = try upstreamParameters(python, template: template, insecure: insecure, files: [first, second])
        let imageprep = try imageprepParameters(["-e", first, "-e", second, "--template-file", template])
        assertSame(upstream, imageprep)
    }

    /// imageprep's built-in final-era catalog against tripleo-common's
    /// template, default values throughout.
    func testTheBuiltInMasterCatalogGivesTripleoCommonsParameters() throws {
        let python = try UpstreamVenv.python()
        let env = try write("cip.yaml", """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: 192.168.24.1:8787
                set: {tag: current-tripleo, neutron_driver: ovn}
            """)
        let upstream = try upstreamParameters(python, template: "-", insecure: ["192.168.24.1:8787"], files: [env])
        let imageprep = try imageprepParameters(["-e", env, "--catalog", "master"])
        assertSame(upstream, imageprep)
    }

    // MARK: Reading YAML as PyYAML does (issue 21)

    /// `if not cip`: an empty list (or mapping, string, false, 0) prepares the
    /// default entry, as an absent one does.
    func testAnEmptyContainerImagePrepareMeansTheDefaultEntry() throws {
        let python = try UpstreamVenv.python()
        for (index, empty) in ["[]", "{}", "''", "false", "0"].enumerated() {
            let env = try write("empty\(index).yaml", "parameter_defaults:\n  ContainerImagePrepare: \(empty)\n")
            let upstream = try upstreamParameters(python, template: "-", insecure: [], files: [env])
            let imageprep = try imageprepParameters(["-e", env, "--catalog", "master"])
            XCTAssertEqual(
                upstream["ContainerKeystoneImage"], "quay.io/tripleomastercentos9/openstack-keystone:current-tripleo", empty)
            assertSame(upstream, imageprep)
        }
    }

    /// Merge keys, single and list form, explicit keys winning, in the
    /// entries of an env file and in a roles file: a role that inherits its
    /// ServicesDefault through `<<` keeps its services. (The list form's
    /// sources share no key here: the venv's PyYAML 6.0.4 lets the last
    /// listed win for keys longer than one character, against the YAML merge
    /// spec and PyYAML 5.4, which undercloud hosts run; imageprep follows the
    /// spec, see ConfigDocumentTests.)
    func testMergeKeysInEnvironmentAndRolesFilesAreReadAsTripleoCommonReadsThem() throws {
        let python = try UpstreamVenv.python()
        let env = try write("merge.yaml", """
            parameter_defaults:
              ContainerImagePrepare:
              - &base
                push_destination: 192.168.24.1:8787
                excludes: [nova-compute]
                set: &wallaby
                  namespace: quay.io/tripleowallaby
                  name_prefix: openstack-
                  tag: "17.1"
              - <<: *base
                excludes: []
                includes: [nova-compute]
                set:
                  <<: [{name_suffix: hotfix}, *wallaby]
              - <<: *base
                includes: [keystone]
                set:
                  <<: *wallaby
                  tag: explicit-wins
            """)
        let roles = try write("roles.yaml", """
            - name: Controller
              CountDefault: 1
              ServicesDefault:
              - OS::TripleO::Services::Keystone
              - OS::TripleO::Services::GlanceApi
              - OS::TripleO::Services::NovaApi
              - OS::TripleO::Services::NovaConductor
              - OS::TripleO::Services::NovaScheduler
              - OS::TripleO::Services::HeatApi
            - &compute
              name: Compute
              CountDefault: 0
              ServicesDefault: [OS::TripleO::Services::NovaCompute, OS::TripleO::Services::NovaLibvirt]
            - <<: *compute
              name: ComputeHCI
              CountDefault: 2
            """)
        let template = upstreamTemplate(python)
        let upstream = try upstreamParameters(python, template: template, insecure: ["192.168.24.1:8787"], files: [env], roles: roles)
        let imageprep = try imageprepParameters(["-e", env, "--roles-file", roles, "--template-file", template])
        XCTAssertEqual(upstream["ContainerNovaComputeImage"], "192.168.24.1:8787/tripleowallaby/openstack-nova-compute-hotfix:17.1")
        XCTAssertEqual(upstream["ContainerKeystoneImage"], "192.168.24.1:8787/tripleowallaby/openstack-keystone:explicit-wins")
        assertSame(upstream, imageprep)
    }

    /// Unquoted numbers and yes/no/on/off in `set` are read as PyYAML reads
    /// them (`tag: 16.10` deploys `:16.1` in both tools), each with a warning
    /// naming the file, the key, what was written and what it means.
    func testUnquotedNumbersAndBooleansInSetDeployWhatTripleoCommonDeploysWithAWarning() throws {
        let python = try UpstreamVenv.python()
        let env = try write("numbers.yaml", """
            parameter_defaults:
              ContainerImagePrepare:
              - set: {namespace: quay.io/tripleowallaby, name_prefix: openstack-, tag: 16.10}
                excludes: [glance, nova-api, ceph, grafana, haproxy, keepalived]
              - set: {namespace: quay.io/tripleowallaby, name_prefix: openstack-, name_suffix: off, tag: 017}
                includes: [glance-api]
              - set: {namespace: quay.io/tripleowallaby, name_prefix: openstack-, tag: "1:30", rhel_containers: no}
                includes: [nova-api]
              - set: {namespace: quay.io/tripleowallaby, tag: 1:30, ceph_tag: 0x1F, ceph_grafana_tag: 6.10}
                includes: [ceph, grafana]
            """)
        let template = upstreamTemplate(python)
        let upstream = try upstreamParameters(python, template: template, insecure: [], files: [env])
        let out = directory.appendingPathComponent("imageprep-env.yaml").path
        let result = try CLI.run(["prepare", "-e", env, "--template-file", template, "--dry-run", "--output-env-file", out])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(upstream["ContainerKeystoneImage"], "quay.io/tripleowallaby/openstack-keystone:16.1")
        XCTAssertEqual(upstream["ContainerGlanceApiImage"], "quay.io/tripleowallaby/openstack-glance-apiFalse:15")
        XCTAssertEqual(upstream["ContainerNovaApiImage"], "quay.io/tripleowallaby/openstack-nova-api:1:30")
        XCTAssertEqual(upstream["GrafanaContainerImage"], "quay.io/ceph/ceph-grafana:6.1")
        assertSame(upstream, try imageprepParameters(["-e", env, "--template-file", template]))
        let quote = "as tripleo-common reads YAML 1.1; quote it"
        XCTAssertEqual(result.stderr, """
            Warning: \(env): ContainerImagePrepare[0].set.tag: 16.10 is read as the number 16.1, \(quote) ("16.10") if 16.10 is meant
            Warning: \(env): ContainerImagePrepare[1].set.name_suffix: off is read as the boolean false (rendered False), \(quote) ("off") if off is meant
            Warning: \(env): ContainerImagePrepare[1].set.tag: 017 is read as the octal number 15, \(quote) ("017") if 017 is meant
            Warning: \(env): ContainerImagePrepare[3].set.tag: 1:30 is read as the base-60 number 90, \(quote) ("1:30") if 1:30 is meant
            Warning: \(env): ContainerImagePrepare[3].set.ceph_tag: 0x1F is read as the hexadecimal number 31, \(quote) ("0x1F") if 0x1F is meant
            Warning: \(env): ContainerImagePrepare[3].set.ceph_grafana_tag: 6.10 is read as the number 6.1, \(quote) ("6.10") if 6.10 is meant

            """)
    }

    /// tripleo-common fails on a number or `true` as name_prefix or
    /// name_suffix (it calls endswith on it): an error naming the key, not an image name.
    func testANumberAsNamePrefixIsAnErrorAsUpstreamCannotUseIt() throws {
        let env = try write("prefix.yaml", """
            parameter_defaults:
              ContainerImagePrepare:
              - set: {name_prefix: 17}
            """)
        let result = try CLI.run(["prepare", "-e", env, "--dry-run"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(
            result.stderr,
            "Error: \(env): ContainerImagePrepare[0].set.name_prefix: expected a string (quote it: \"17\"), found the number 17\n")
    }

    /// The era of a template comes from the template alone: an entry that
    /// sets the final era's own keys (ceph_images, pushgateway_*) but leaves
    /// namespace, name_prefix and tag to the defaults gets the final era's
    /// defaults, not stein's docker.io/tripleomaster and centos-binary-.
    func testTheTemplatesEraComesFromTheTemplateNotFromAnEntrysSet() throws {
        let python = try UpstreamVenv.python()
        let env = try write("era.yaml", """
            parameter_defaults:
              ContainerImagePrepare:
              - set:
                  ceph_images: false
                  pushgateway_namespace: registry.example/prometheus
                  pushgateway_image: pushgateway
                  pushgateway_tag: v1.4.2
            """)
        let template = upstreamTemplate(python)
        let upstream = try upstreamParameters(python, template: template, insecure: [], files: [env])
        let imageprep = try imageprepParameters(["-e", env, "--template-file", template])
        XCTAssertEqual(upstream["ContainerKeystoneImage"], "quay.io/tripleomastercentos9/openstack-keystone:current-tripleo")
        assertSame(upstream, imageprep)
    }

    /// `includes`/`excludes` in Python's syntax (upstream's `re.search`):
    /// named groups, inline flags, `\Z`, lookbehind, comments.
    func testPythonRegularExpressionsFilterAsTripleoCommonFilters() throws {
        let python = try UpstreamVenv.python()
        let env = try write("regex.yaml", """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: 192.168.24.1:8787
                includes: ['(?P<svc>nova|glance)-(?P<role>api|compute)(?#the API and compute images):', '(?i)KEYSTONE', 'ironic:current-tripleo\\Z']
              - push_destination: 192.168.24.1:8787
                excludes: ['(?<!openstack-)nova', '(?<=openstack-)(?!neutron|nova|ceph).', '{', '[[]']
            """)
        let template = upstreamTemplate(python)
        let upstream = try upstreamParameters(python, template: template, insecure: ["192.168.24.1:8787"], files: [env])
        let imageprep = try imageprepParameters(["-e", env, "--template-file", template])
        XCTAssertEqual(upstream["ContainerKeystoneImage"], "192.168.24.1:8787/tripleomastercentos9/openstack-keystone:current-tripleo")
        assertSame(upstream, imageprep)
    }

    /// DockerInsecureRegistryAddress lists the insecure registries of the
    /// parameters written: a destination whose images a later entry
    /// re-points is not listed; a marked registry a parameter names is. With
    /// one entry upstream agrees; over several entries upstream keeps only the
    /// last entry's list (`env_params.update` per entry in
    /// container_images_prepare_multi), which drops 192.168.24.2:8787 although
    /// nearly every parameter names it: imageprep lists both (README, rule of
    /// DockerInsecureRegistryAddress).
    func testDockerInsecureRegistryAddressListsTheWrittenParametersInsecureRegistries() throws {
        let python = try UpstreamVenv.python()
        let insecure = ["192.168.24.1:8787", "192.168.24.2:8787", "192.168.24.5:5000"]
        let single = try write("insecure-one.yaml", """
            parameter_defaults:
              DockerInsecureRegistryAddress: [192.168.24.5:5000]
              ContainerImagePrepare:
              - push_destination: 192.168.24.2:8787
                excludes: [glance]
            """)
        let upstreamSingle = try upstreamParameters(python, template: "-", insecure: insecure, files: [single])
        let imageprepSingle = try imageprepParameters(["-e", single, "--catalog", "master"])
        XCTAssertEqual(upstreamSingle["DockerInsecureRegistryAddress"], "192.168.24.2:8787")
        assertSame(upstreamSingle, imageprepSingle)

        let env = try write("insecure.yaml", """
            parameter_defaults:
              DockerInsecureRegistryAddress: [192.168.24.5:5000]
              ContainerImagePrepare:
              - push_destination: 192.168.24.1:8787
                includes: [nova]
              - push_destination: 192.168.24.2:8787
                excludes: [glance]
              - set: {namespace: 192.168.24.5:5000/tripleowallaby}
                includes: [glance]
            """)
        var upstream = try upstreamParameters(python, template: "-", insecure: insecure, files: [env])
        var imageprep = try imageprepParameters(["-e", env, "--catalog", "master"])
        XCTAssertEqual(upstream.removeValue(forKey: "DockerInsecureRegistryAddress"), "192.168.24.5:5000")
        XCTAssertEqual(imageprep.removeValue(forKey: "DockerInsecureRegistryAddress"), "192.168.24.2:8787,192.168.24.5:5000")
        XCTAssertTrue(imageprep.values.contains { $0.hasPrefix("192.168.24.2:8787/") })
        XCTAssertFalse(imageprep.values.contains { $0.hasPrefix("192.168.24.1:8787/") })
        assertSame(upstream, imageprep)
    }

    /// A template whose output inherits an image's fields through `<<`.
    func testMergeKeysInATemplatesOutputAreReadAsTripleoCommonReadsThem() throws {
        let python = try UpstreamVenv.python()
        let template = try write("merge_containers.yaml.j2", """
            container_images_template:
            - &nova
              imagename: "{{namespace}}/{{name_prefix}}nova-api{{name_suffix}}:{{tag}}"
              image_source: tripleo
              params: [ContainerNovaApiImage, ContainerNovaConfigImage]
              services: [OS::TripleO::Services::NovaApi]
            - <<: *nova
              imagename: "{{namespace}}/{{name_prefix}}nova-conductor{{name_suffix}}:{{tag}}"
              params: [ContainerNovaConductorImage]
            - <<: [{params: [ContainerNovaSchedulerImage]}, {image_source: tripleo, services: [OS::TripleO::Services::NovaScheduler]}]
              imagename: "{{namespace}}/{{name_prefix}}nova-scheduler{{name_suffix}}:{{tag}}"
            """)
        let env = try write("cip.yaml", """
            parameter_defaults:
              ContainerImagePrepare:
              - set: {namespace: quay.io/tripleowallaby, name_prefix: openstack-, tag: "17.1"}
            """)
        let upstream = try upstreamParameters(python, template: template, insecure: [], files: [env])
        let imageprep = try imageprepParameters(["-e", env, "--template-file", template])
        XCTAssertEqual(upstream["ContainerNovaSchedulerImage"], "quay.io/tripleowallaby/openstack-nova-scheduler:17.1")
        assertSame(upstream, imageprep, atLeast: 4)
    }
}

/// CI must have the venv (scripts/test makes it): a failure, not a skip.
