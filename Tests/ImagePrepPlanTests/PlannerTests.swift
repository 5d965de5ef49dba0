import Foundation
import ImagePrepOCI
import XCTest

@testable import ImagePrepPlan

final class PlannerTests: XCTestCase {
    private func environment(_ documents: String...) throws -> HeatEnvironment {
        var environment = HeatEnvironment()
        for (index, text) in documents.enumerated() {
            let file = "env\(index).yaml"
            try environment.merge(try ConfigDocument.parse(text, file: file), file: file)
        }
        return environment
    }

    private func plan(_ documents: String..., roles: [Role]? = nil, now: Date = Date()) throws -> PreparePlan {
        var environment = HeatEnvironment()
        for (index, text) in documents.enumerated() {
            let file = "env\(index).yaml"
            try environment.merge(try ConfigDocument.parse(text, file: file), file: file)
        }
        return try Planner(environment: environment, roles: roles, undercloudRegistry: "uc.ctlplane.example:8787", now: now).plan()
    }

    private func parameters(_ plan: PreparePlan) -> [String: String] {
        Dictionary(uniqueKeysWithValues: PrepareOutput.parameters(plan.images.map(ResolvedImage.unresolved)).map { ($0.name, $0.image) })
    }

    private func planError(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func testNoContainerImagePrepareMeansTheDefaultEntry() throws {
        let plan = try plan("parameter_defaults: {}")
        let entry = try PrepareEntry.parse(DefaultPrepare.entry(for: .stein, localPushDestination: false), index: 0, file: "d")
        let context = Planner(environment: HeatEnvironment()).templateContext(for: entry, neutronDriver: "ovn")
        XCTAssertEqual(plan.images.count, Catalog.stein.entries(context).count)
        XCTAssertGreaterThan(plan.images.count, 100)
        let params = parameters(plan)
        XCTAssertEqual(params["DockerNovaApiImage"], "docker.io/tripleomaster/centos-binary-nova-api:current-tripleo")
        XCTAssertEqual(params["DockerCephDaemonImage"], "docker.io/ceph/daemon:v3.0.3-stable-3.0-luminous-centos-7-x86_64")
        XCTAssertTrue(plan.images.allSatisfy { $0.tagFromLabel?.description == "rdo_version" && $0.pushDestination == nil })
    }

    func testABadNameOfAnImageTheRunReadsIsAPlanErrorAndTheNamesAreParsedOnce() throws {
        func environment(_ extra: String, namespace: String) -> String {
            """
            parameter_defaults:
              ContainerImagePrepare:
              - includes: [nova-api]
            \(extra)
                set:
                  namespace: \(namespace)
                  name_prefix: centos-binary-
                  tag: current-tripleo
            """
        }
        // Read (tag_from_label, push_destination): refused at plan time, naming entry and reason.
        for extra in ["    tag_from_label: rdo_version", "    push_destination: 192.168.24.1:8787"] {
            XCTAssertEqual(
                planError { try plan(environment(extra, namespace: "docker.io/Tripleo")) },
                "env0.yaml: ContainerImagePrepare[0]: invalid image reference 'docker.io/Tripleo/centos-binary-nova-api:current-tripleo': repository names must be lowercase",
                extra)
        }
        // A push destination that makes the target name invalid is refused too.
        XCTAssertTrue(
            planError { try plan(environment("    push_destination: 'uc:8787/UP'", namespace: "docker.io/tripleo")) }
                .hasPrefix("env0.yaml: ContainerImagePrepare[0]: invalid image reference 'uc:8787/UP/"))
        // Only named in a parameter: written as it is, as upstream does.
        let named = try plan(environment("    tag_from_label: null", namespace: "docker.io/Tripleo"))
        XCTAssertEqual(named.images.map(\.imageName), ["docker.io/Tripleo/centos-binary-nova-api:current-tripleo"])
        XCTAssertNil(named.images[0].pullReference)
        // A read image carries its parsed reference and template into resolution.
        let read = try plan(environment("    tag_from_label: '{version}-{release}'", namespace: "docker.io/tripleo"))
        XCTAssertEqual(read.images[0].pullReference?.repository, "tripleo/centos-binary-nova-api")
        XCTAssertEqual(read.images[0].pullReference?.tag, "current-tripleo")
        XCTAssertEqual(read.images[0].tagFromLabel?.description, "{version}-{release}")
    }

    func testSeedLayeringExampleGivesTheSeedsParameters() throws {
        let plan = try plan("""
            parameter_defaults:
              ContainerImagePrepare:
              - tag_from_label: rdo_version
                push_destination: 192.168.24.1:8787
                excludes:
                - nova-api
                set:
                  namespace: docker.io/tripleomaster
                  name_prefix: centos-binary-
                  name_suffix: ''
                  tag: current-tripleo
              - push_destination: 192.168.24.1:8787
                includes:
                - nova-api
                set:
                  namespace: mylocal
                  tag: myhotfix
            """)
        let params = parameters(plan)
        XCTAssertEqual(params["DockerNovaApiImage"], "192.168.24.1:8787/mylocal/centos-binary-nova-api:myhotfix")
        XCTAssertEqual(
            params["DockerNeutronMetadataImage"],
            "192.168.24.1:8787/tripleomaster/centos-binary-neutron-metadata-agent:current-tripleo")
        let second = plan.images.filter { $0.entry == 1 }
        XCTAssertEqual(second.map(\.imageName), ["mylocal/centos-binary-nova-api:myhotfix"])
        XCTAssertNil(second[0].tagFromLabel)
        XCTAssertFalse(plan.images.contains { $0.entry == 0 && $0.imageName.contains("nova-api") })
    }

    func testIncludeMatchKeepsAnImageWhateverTheExcludesSay() throws {
        let plan = try plan("""
            parameter_defaults:
              ContainerImagePrepare:
              - includes: ['nova-(api|compute)$', 'nova-compute:']
                excludes: [nova]
            """)
        XCTAssertEqual(plan.images.map(\.imageName), ["docker.io/tripleomaster/centos-binary-nova-compute:current-tripleo"])
    }

    func testExcludesAreRegularExpressionSearches() throws {
        let plan = try plan("""
            parameter_defaults:
              ContainerImagePrepare:
              - excludes: ['^docker\\.io/tripleomaster/centos-binary-(nova|neutron)', ceph]
            """)
        XCTAssertFalse(plan.images.isEmpty)
        XCTAssertFalse(plan.images.contains { $0.imageName.contains("centos-binary-nova") || $0.imageName.contains("centos-binary-neutron") })
        XCTAssertFalse(plan.images.contains { $0.imageName.contains("ceph") })
        XCTAssertTrue(plan.images.contains { $0.imageName.contains("centos-binary-keystone") })
    }

    func testPrefixAndSuffixGainHyphens() throws {
        let plan = try plan("""
            parameter_defaults:
              ContainerImagePrepare:
              - includes: ['/pre-keystone-']
                set: {namespace: r.example:5000/ns, name_prefix: pre, name_suffix: suf, tag: '16.2'}
            """)
        XCTAssertEqual(plan.images.map(\.imageName), ["r.example:5000/ns/pre-keystone-suf:16.2"])
    }

    func testNeutronDriverComesFromNeutronMechanismDriversWhenUnset() throws {
        let cip = """
            parameter_defaults:
              ContainerImagePrepare:
              - includes: [neutron-server]
                set: {neutron_driver: null}
            """
        XCTAssertEqual(try plan(cip).images.map(\.imageName), ["docker.io/tripleomaster/centos-binary-neutron-server-ovn:current-tripleo"])
        XCTAssertEqual(
            try plan(cip, "parameter_defaults: {NeutronMechanismDrivers: [openvswitch, l2population]}").images.map(\.imageName),
            ["docker.io/tripleomaster/centos-binary-neutron-server:current-tripleo"])
        XCTAssertEqual(
            try plan(cip, "parameter_defaults: {NeutronMechanismDrivers: 'sriovnicswitch,ovn'}").images.map(\.imageName),
            ["docker.io/tripleomaster/centos-binary-neutron-server-ovn:current-tripleo"])
        let explicit = cip.replacingOccurrences(of: "neutron_driver: null", with: "neutron_driver: odl")
        XCTAssertEqual(
            try plan(explicit, "parameter_defaults: {NeutronMechanismDrivers: ovn}").images.map(\.imageName),
            ["docker.io/tripleomaster/centos-binary-neutron-server-opendaylight:current-tripleo"])
    }

    func testRolesKeepOnlyImagesOfEnabledServices() throws {
        let roles = [
            Role(name: "Controller", countDefault: 1, servicesDefault: ["OS::TripleO::Services::NovaApi", "OS::TripleO::Services::Keystone"]),
            Role(name: "Compute", countDefault: 1, servicesDefault: ["OS::TripleO::Services::NovaCompute"]),
            Role(name: "Storage", countDefault: 0, servicesDefault: ["OS::TripleO::Services::SwiftStorage"]),
        ]
        let names = { (plan: PreparePlan) in Set(plan.images.map { $0.imageName.split(separator: "/").last!.split(separator: ":")[0] }) }
        XCTAssertEqual(
            names(try plan("parameter_defaults: {}", roles: roles)),
            ["centos-binary-nova-api", "centos-binary-keystone", "centos-binary-nova-compute"])
        // <Role>Count over CountDefault, <Role>Services over ServicesDefault,
        // OS::Heat::None disables.
        XCTAssertEqual(
            names(try plan("""
                parameter_defaults:
                  ComputeCount: 0
                  StorageCount: '2'
                  ControllerServices: [OS::TripleO::Services::Keystone, OS::TripleO::Services::Horizon]
                resource_registry:
                  OS::TripleO::Services::Horizon: OS::Heat::None
                """, roles: roles)),
            ["centos-binary-keystone", "centos-binary-swift-account", "centos-binary-swift-container",
             "centos-binary-swift-object", "centos-binary-swift-proxy-server", "centos-binary-rsyslog-base"])
    }

    func testLaterEntriesParametersWin() throws {
        let plan = try plan("""
            parameter_defaults:
              ContainerImagePrepare:
              - includes: ['binary-keystone:']
              - includes: ['binary-keystone:']
                set: {tag: newer}
            """)
        XCTAssertEqual(plan.images.count, 2)
        XCTAssertEqual(parameters(plan)["DockerKeystoneImage"], "docker.io/tripleomaster/centos-binary-keystone:newer")
    }

    func testLaterEnvironmentFilesWinKeyByKey() throws {
        let plan = try plan(
            "parameter_defaults: {ContainerImagePrepare: [{includes: ['binary-keystone:']}], LocalContainerRegistry: 10.0.0.1}",
            "parameter_defaults: {ContainerImagePrepare: [{includes: ['binary-keystone:'], push_destination: true}]}")
        XCTAssertEqual(plan.images.map(\.pushDestination), ["10.0.0.1:8787"])
    }

    func testPushDestinationTrueIsTheUndercloudRegistryWithoutLocalContainerRegistry() throws {
        let plan = try plan("parameter_defaults: {ContainerImagePrepare: [{includes: ['binary-keystone:'], push_destination: true}]}")
        XCTAssertEqual(plan.images.map { $0.targetName() }, ["uc.ctlplane.example:8787/tripleomaster/centos-binary-keystone:current-tripleo"])
    }

    func testRehomeReplacesOnlyARegistryComponent() {
        XCTAssertEqual(ImageName.rehome("docker.io/ns/img:t", to: "h:8787"), "h:8787/ns/img:t")
        XCTAssertEqual(ImageName.rehome("localhost/ns/img:t", to: "h:8787"), "h:8787/ns/img:t")
        XCTAssertEqual(ImageName.rehome("ns/img:t", to: "h:8787"), "h:8787/ns/img:t")
        XCTAssertEqual(ImageName.rehome("img", to: "h:8787/"), "h:8787/img")
        XCTAssertEqual(ImageName.splitTag("r:5000/ns/img").tag, nil)
        XCTAssertEqual(ImageName.withTag("r:5000/ns/img:a", "b"), "r:5000/ns/img:b")
    }

    func testModifyAppendsTheTagAndDefaultsToAUTCTimestamp() throws {
        let now = Date(timeIntervalSince1970: 1_700_000_000)  // 2023-11-14 22:13:20 UTC
        let plan = try plan("""
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: 127.0.0.1:8787
                includes: ['nova-compute:']
                modify_role: tripleo-modify-image
                modify_vars: {tasks_from: rpm_install.yml, rpms_path: /tmp/rpms}
              - push_destination: 127.0.0.1:8787
                includes: ['binary-keystone:']
                modify_role: tripleo-modify-image
                modify_append_tag: -hotfix
                modify_vars: {tasks_from: yum_update.yml}
            """, now: now)
        XCTAssertEqual(plan.images.map { $0.modify?.appendTag }, ["-modified-20231114221320", "-hotfix"])
        let params = parameters(plan)
        XCTAssertEqual(params["DockerNovaComputeImage"], "127.0.0.1:8787/tripleomaster/centos-binary-nova-compute:current-tripleo-modified-20231114221320")
        XCTAssertEqual(params["DockerKeystoneImage"], "127.0.0.1:8787/tripleomaster/centos-binary-keystone:current-tripleo-hotfix")
        XCTAssertEqual(plan.images[0].modify?.vars, [ConfigEntry("tasks_from", .string("rpm_install.yml")), ConfigEntry("rpms_path", .string("/tmp/rpms"))])
    }

    /// An operator's own role runs through ansible-playbook: its modify_vars are passed as
    /// they are (no tasks_from needed, any keys and values), and only the built-in role's
    /// variables are checked.
    func testAnyOtherModifyRoleKeepsItsVarsAsGiven() throws {
        let plan = try plan("""
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: 127.0.0.1:8787
                includes: ['nova-compute:']
                modify_role: my-role
                modify_append_tag: -mine
                modify_vars: {greeting: hello, packages: [a, b], nested: {depth: 2}, tasks_from: anything.yml}
              - push_destination: 127.0.0.1:8787
                includes: ['binary-keystone:']
                modify_role: ansible-role-tripleo-modify-image
                modify_vars: {tasks_from: yum_update.yml}
            """)
        let custom = try XCTUnwrap(plan.images.first { $0.imageName.contains("nova-compute") }?.modify)
        XCTAssertEqual(custom.role, "my-role")
        XCTAssertNil(custom.task)
        XCTAssertEqual(custom.vars.map(\.key), ["greeting", "packages", "nested", "tasks_from"])
        XCTAssertEqual(custom.vars[1].value, .list([.string("a"), .string("b")]))
        XCTAssertEqual(custom.action, .role("my-role", vars: custom.vars))
        XCTAssertEqual(parameters(plan)["DockerNovaComputeImage"], "127.0.0.1:8787/tripleomaster/centos-binary-nova-compute:current-tripleo-mine")
        let builtIn = try XCTUnwrap(plan.images.first { $0.imageName.contains("keystone") }?.modify)
        // The task, and the modify_vars as given, for --engine ansible's upstream role.
        XCTAssertEqual(
            builtIn.action, .builtIn(.yumUpdate(ModifyTask.YumUpdate()), vars: [ConfigEntry("tasks_from", .string("yum_update.yml"))]))
        XCTAssertTrue(Planner.isBuiltInRole("tripleo-modify-image"))
        XCTAssertTrue(Planner.isBuiltInRole("ansible-role-tripleo-modify-image"))
        XCTAssertFalse(Planner.isBuiltInRole("my-role"))
        // The built-in role's checks stay its own.
        XCTAssertEqual(
            planError { try self.plan("parameter_defaults: {ContainerImagePrepare: [{modify_role: tripleo-modify-image, push_destination: true, modify_vars: {greeting: hello}}]}") },
            "env0.yaml: ContainerImagePrepare[0].modify_vars.modify_dir_path: expected a path, found nothing (without tasks_from the role runs modify_image.yml)")
    }

    /// The role's main.yml defaults tasks_from to modify_image.yml; a key the role never
    /// reads is a warning naming it (the role would ignore it silently).
    func testModifyVarsDefaultTaskAndUnknownKeys() throws {
        let plan = try plan("""
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: true
                includes: ['binary-keystone:']
                modify_role: tripleo-modify-image
                modify_vars: {modify_dir_path: /home/stack/hotfix, update_repos: quickfix, update_repo: x}
            """)
        let keystone = try XCTUnwrap(plan.images.first?.modify)
        XCTAssertEqual(keystone.task, .modifyImage(directory: "/home/stack/hotfix"))
        XCTAssertEqual(
            plan.warnings,
            ["env0.yaml: ContainerImagePrepare[0].modify_vars.update_repos is not a variable of tripleo-modify-image: it is ignored"])
        // An operator's own role gets every key: no warning.
        let own = try self.plan("""
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: true
                includes: ['binary-keystone:']
                modify_role: my-role
                modify_vars: {greeting: hello}
            """)
        XCTAssertEqual(own.warnings, [])
    }

    func testModifyOnlyWithSourceAndOnlyWithLabels() throws {
        let plan = try plan("""
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: 127.0.0.1:8787
                includes: ['binary-keystone:', ceph]
                modify_role: tripleo-modify-image
                modify_append_tag: -x
                modify_vars: {tasks_from: yum_update.yml}
                modify_only_with_source: [kolla]
              - push_destination: 127.0.0.1:8787
                includes: [glance-api]
                modify_role: tripleo-modify-image
                modify_append_tag: -y
                modify_vars: {tasks_from: yum_update}
                modify_only_with_labels: [kolla_version]
            """)
        let keystone = plan.images.first { $0.imageName.contains("keystone") }
        let ceph = plan.images.first { $0.imageName.contains("ceph") }
        let glance = plan.images.first { $0.imageName.contains("glance-api") }
        XCTAssertEqual(keystone?.modify?.appendTag, "-x")
        XCTAssertNil(ceph?.modify)
        XCTAssertEqual(glance?.modify?.onlyWithLabels, ["kolla_version"])
        // Labels are unknown until the registry is asked: not assumed.
        XCTAssertEqual(ResolvedImage.unresolved(glance!).modified, false)
        XCTAssertEqual(ResolvedImage.unresolved(keystone!).modified, true)

        // Both filters: upstream modifies an image matching either. A source match is
        // modified whatever its labels; any other image only if the labels match.
        let both = try self.plan("""
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: 127.0.0.1:8787
                includes: ['binary-keystone:', ceph]
                modify_role: tripleo-modify-image
                modify_vars: {tasks_from: yum_update.yml}
                modify_only_with_source: [kolla]
                modify_only_with_labels: [kolla_version]
            """)
        let bothKeystone = try XCTUnwrap(both.images.first { $0.imageName.contains("keystone") })
        let bothCeph = try XCTUnwrap(both.images.first { $0.imageName.contains("ceph") })
        XCTAssertEqual(bothKeystone.modify?.onlyWithLabels, [])
        XCTAssertEqual(ResolvedImage.unresolved(bothKeystone).modified, true)
        XCTAssertEqual(bothCeph.modify?.onlyWithLabels, ["kolla_version"])
        XCTAssertEqual(ResolvedImage.unresolved(bothCeph).modified, false)
    }

    func testRegistrySettingsAreReadAndPasswordsNeverEncoded() throws {
        let plan = try plan("""
            parameter_defaults:
              ContainerImagePrepare: [{includes: ['binary-keystone:']}]
              ContainerImageRegistryCredentials: {registry.example: {admin: s3cr3t-pw}}
              ContainerImageRegistryLogin: true
              DockerRegistryMirror: http://mirror.example/
              AdditionalArchitectures: [ppc64le]
              DockerInsecureRegistryAddress: 'a.example:5000,b.example'
            """)
        XCTAssertEqual(plan.registry.credentials["registry.example"], RegistryCredential(user: "admin", password: "s3cr3t-pw"))
        XCTAssertTrue(plan.registry.login)
        XCTAssertEqual(plan.registry.mirror, "http://mirror.example/")
        XCTAssertEqual(plan.registry.additionalArchitectures, ["ppc64le"])
        XCTAssertEqual(plan.registry.insecureRegistries, ["a.example:5000", "b.example"])
        let json = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        XCTAssertTrue(json.contains("admin"))
        XCTAssertFalse(json.contains("s3cr3t-pw"))
        XCTAssertFalse("\(plan.registry.credentials)".contains("s3cr3t-pw"))
    }

    /// The push destination is listed; a source reached insecurely that no parameter names is not.
    func testOutputEnvironmentListsPushDestinationsAsInsecure() throws {
        let plan = try plan("parameter_defaults: {ContainerImagePrepare: [{includes: ['binary-keystone:'], push_destination: '127.0.0.2:8787'}]}")
        let text = ConfigDocument.serialize(PrepareOutput.environment(plan.images.map(ResolvedImage.unresolved), reachedInsecurely: ["127.0.0.3:5000"]))
        XCTAssertEqual(text, """
            parameter_defaults:
              DockerKeystoneConfigImage: 127.0.0.2:8787/tripleomaster/centos-binary-keystone:current-tripleo
              DockerKeystoneImage: 127.0.0.2:8787/tripleomaster/centos-binary-keystone:current-tripleo
              DockerInsecureRegistryAddress:
              - 127.0.0.2:8787

            """)
    }

    func testOperatorTemplateIsRenderedWithEntryValuesOverDefaults() throws {
        let path = Reference.fixture("small_containers.yaml.j2")
        let template = try CatalogTemplate(source: try String(contentsOfFile: path, encoding: .utf8), file: path) {
            try? String(contentsOfFile: $0, encoding: .utf8)
        }
        let environment = try environment("""
            parameter_defaults:
              NeutronMechanismDrivers: openvswitch
              ContainerImagePrepare:
              - set: {namespace: 127.0.0.1:5000/ns, tag: t1}
                excludes: [nova-compute]
            """)
        let plan = try Planner(environment: environment, template: template).plan()
        XCTAssertEqual(plan.images.map(\.imageName), [
            "127.0.0.1:5000/ns/centos-binary-nova-api:t1",
            "127.0.0.1:5000/ns/centos-binary-neutron-server:t1",
            "docker.io/ceph/daemon:v4.0.0-stable-4.0-nautilus-centos-7-x86_64",
        ])
        XCTAssertEqual(plan.catalog, path)
    }

    func testBadInputNamesTheFileKeyAndExpectation() {
        XCTAssertEqual(
            planError { try self.plan("parameter_defaults: {ContainerImagePrepare: {set: {}}}") },
            "env0.yaml: ContainerImagePrepare: expected a list of entries, found a mapping")
        XCTAssertEqual(
            planError { try self.plan("parameter_defaults: {ContainerImagePrepare: [{}, notamap]}") },
            "env0.yaml: ContainerImagePrepare[1]: expected a mapping, found a string")
        XCTAssertEqual(
            planError { try self.plan("parameter_defaults: {ContainerImagePrepare: [{includes: nova}]}") },
            "env0.yaml: ContainerImagePrepare[0].includes: expected a list of strings, found a string 'nova'")
        XCTAssertEqual(
            planError { try self.plan("parameter_defaults: {ContainerImagePrepare: [{excludes: [ok, '(']}]}") },
            "env0.yaml: ContainerImagePrepare[0].excludes[1]: '(' is not a valid regular expression (missing ), unterminated subpattern)")
        XCTAssertEqual(
            planError { try self.plan("parameter_defaults: {ContainerImagePrepare: [{push_destination: 5}]}") },
            "env0.yaml: ContainerImagePrepare[0].push_destination: expected true, false or a registry address (HOST:PORT), found a number '5'")
        XCTAssertEqual(
            planError { try self.plan("parameter_defaults: {ContainerImagePrepare: [{set: {tag: [a]}}]}") },
            "env0.yaml: ContainerImagePrepare[0].set.tag: expected a string, number, boolean or null, found a list")
        XCTAssertTrue(
            planError { try self.plan("parameter_defaults: {ContainerImagePrepare: [{tag_from_lable: x}]}") }
                .hasPrefix("env0.yaml: ContainerImagePrepare[0].tag_from_lable: unknown key; an entry takes set, includes"))
        XCTAssertEqual(
            planError { try self.plan("parameter_defaults: {ContainerImagePrepare: [{modify_role: tripleo-modify-image}]}") },
            "env0.yaml: ContainerImagePrepare[0]: modify_role needs a push_destination: modified images are pushed there")
        XCTAssertEqual(
            planError { try self.plan("parameter_defaults: {ContainerImagePrepare: [{modify_role: my-role}]}") },
            "env0.yaml: ContainerImagePrepare[0]: modify_role needs a push_destination: modified images are pushed there")
        XCTAssertEqual(
            planError { try self.plan("parameter_defaults: {ContainerImagePrepare: [{modify_role: ansible-role-tripleo-modify-image}]}") },
            "env0.yaml: ContainerImagePrepare[0]: modify_role needs a push_destination: modified images are pushed there")
        XCTAssertEqual(
            planError { try self.plan("parameter_defaults: {ContainerImageRegistryLogin: maybe}") },
            "env0.yaml: ContainerImageRegistryLogin: expected true or false, found a string 'maybe'")
        XCTAssertEqual(
            planError { try self.plan("- a list") },
            "env0.yaml: (document): expected a mapping with parameter_defaults, found a list")
        XCTAssertEqual(
            planError { try self.plan("{}", "parameter_defaults: {ComputeCount: many}", roles: [Role(name: "Compute", countDefault: 1, servicesDefault: [])]) },
            "env1.yaml: parameter_defaults.ComputeCount: expected a node count (a whole number), found 'many'")
    }

    func testModifyVarsAreCheckedBeforeAnythingIsBuilt() throws {
        func modify(_ vars: String) -> String {
            planError {
                try self.plan("""
                    parameter_defaults:
                      ContainerImagePrepare:
                      - push_destination: true
                        modify_role: tripleo-modify-image
                        modify_vars: \(vars)
                    """)
            }
        }
        XCTAssertEqual(
            modify("{rpms_path: /x}"),
            "env0.yaml: ContainerImagePrepare[0].modify_vars.modify_dir_path: expected a path, found nothing (without tasks_from the role runs modify_image.yml)")
        XCTAssertEqual(
            modify("{tasks_from: rpm_upgrade.yml}"),
            "env0.yaml: ContainerImagePrepare[0].modify_vars.tasks_from: expected one of modify_image.yml, rpm_install.yml, yum_update.yml, yum_install.yml, dev_install.yml, found 'rpm_upgrade.yml'")
        XCTAssertEqual(
            modify("{tasks_from: rpm_install.yml}"),
            "env0.yaml: ContainerImagePrepare[0].modify_vars.rpms_path: expected a path, found nothing")
        XCTAssertEqual(
            modify("{tasks_from: modify_image.yml, modify_dir_path: [a]}"),
            "env0.yaml: ContainerImagePrepare[0].modify_vars.modify_dir_path: expected a string, found a list")
        XCTAssertEqual(
            modify("{tasks_from: yum_update.yml, compare_host_packages: sometimes}"),
            "env0.yaml: ContainerImagePrepare[0].modify_vars.compare_host_packages: expected true or false, found a string 'sometimes'")
        XCTAssertEqual(
            modify("{tasks_from: dev_install.yml, refspecs: [{project: heat}]}"),
            "env0.yaml: ContainerImagePrepare[0].modify_vars.refspecs[0]: expected a mapping with project and refspec, found a mapping")
        XCTAssertEqual(
            modify("{tasks_from: yum_install.yml}"),
            "env0.yaml: ContainerImagePrepare[0].modify_vars.yum_packages: expected a list of package names, found nothing")

        let ok = try plan("""
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: true
                includes: ['binary-keystone:']
                modify_role: tripleo-modify-image
                modify_vars:
                  tasks_from: yum_update.yml
                  update_repo: 'hotfix, updates'
                  yum_repos_dir_path: /etc/yum.repos.d
                  compare_host_packages: true
            """)
        var expected = ModifyTask.YumUpdate()
        expected.updateRepos = ["hotfix", "updates"]
        expected.reposDirectory = "/etc/yum.repos.d"
        expected.compareHostPackages = true
        XCTAssertEqual(ok.images.first?.modify?.task, .yumUpdate(expected))
    }

    /// Finding 9 of issue 12: values that would break out of the build's Dockerfile line, the
    /// hook or buildah's --volume are refused at plan time (so `--dry-run` shows it), in one
    /// line naming the file and key; the others reach the package manager literally.
    func testHostileModifyVarsAreRefusedInOneLineOrKeptLiterally() throws {
        func modify(_ vars: String, appendTag: String = "-x") -> String {
            planError {
                try self.plan("""
                    parameter_defaults:
                      ContainerImagePrepare:
                      - push_destination: true
                        modify_role: tripleo-modify-image
                        modify_append_tag: \(appendTag)
                        modify_vars: \(vars)
                    """)
            }
        }
        let refused = [
            (#"{tasks_from: yum_install.yml, yum_packages: ["hotfix\nRUN touch /pwned"]}"#,
             #"env0.yaml: ContainerImagePrepare[0].modify_vars.yum_packages: expected package names without line breaks or control characters, found 'hotfix\nRUN touch /pwned'"#),
            (#"{tasks_from: yum_install.yml, yum_packages: [hotfix, "--installroot=/"]}"#,
             "env0.yaml: ContainerImagePrepare[0].modify_vars.yum_packages: expected package names (not empty, not starting with '-'), found '--installroot=/'"),
            (#"{tasks_from: yum_update.yml, update_repo: "hotfix,\"; touch /pwned\ru"}"#,
             #"env0.yaml: ContainerImagePrepare[0].modify_vars.update_repo: expected comma-separated repo ids without line breaks or control characters, found '\"; touch /pwned\ru'"#),
            ("{tasks_from: yum_update.yml, yum_cache: '/var/cache:/etc:rw'}",
             "env0.yaml: ContainerImagePrepare[0].modify_vars.yum_cache: expected a directory path without ':' (it is mounted with buildah --volume PATH:/var/cache/dnf), found '/var/cache:/etc:rw'"),
            (#"{tasks_from: rpm_install.yml, rpms_path: "/tmp/x\n"}"#,
             #"env0.yaml: ContainerImagePrepare[0].modify_vars.rpms_path: expected a path without line breaks or control characters, found '/tmp/x\n'"#),
        ]
        for (vars, error) in refused {
            let message = modify(vars)
            XCTAssertEqual(message, error)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)")
        }
        XCTAssertEqual(
            modify("{tasks_from: rpm_install.yml, rpms_path: /x}", appendTag: #""-x\nRUN touch /pwned""#),
            #"env0.yaml: ContainerImagePrepare[0].modify_append_tag: expected tag characters (letters, digits, '_', '.', '-'), at most 128, found '-x\nRUN touch /pwned'"#)
        XCTAssertEqual(
            modify("{tasks_from: rpm_install.yml, rpms_path: /x}", appendTag: "'-x $(id)'"),
            "env0.yaml: ContainerImagePrepare[0].modify_append_tag: expected tag characters (letters, digits, '_', '.', '-'), at most 128, found '-x $(id)'")

        // Shell syntax on one line is no danger: it reaches dnf as one argument (see YumTaskTests).
        let kept = try plan(#"""
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: true
                modify_role: tripleo-modify-image
                modify_vars:
                  tasks_from: yum_install.yml
                  yum_packages: ["a;b", "$(touch /pwned)", "`id`", "it's \"quoted\""]
            """#)
        XCTAssertEqual(
            kept.images.first?.modify?.task,
            .yumInstall(packages: ["a;b", "$(touch /pwned)", "`id`", #"it's "quoted""#], reposDirectory: nil))
    }

    func testMalformedYAMLNamesFileAndLine() {
        XCTAssertThrowsError(try ConfigDocument.parse("a: 1\nb: [1, 2\nc: 3\n", file: "bad.yaml")) { error in
            guard case .invalidYAML(let file, let line, _, _) = error as? PlanError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "bad.yaml")
            XCTAssertNotNil(line)
            XCTAssertTrue("\(error)".hasPrefix("bad.yaml:"), "\(error)")
        }
    }

    func testRolesFileIsChecked() throws {
        let roles = try Role.parseRoles(
            try ConfigDocument.parse("- name: Controller\n  CountDefault: 3\n  ServicesDefault: [a, b]\n- name: Compute\n", file: "r.yaml"),
            file: "r.yaml")
        XCTAssertEqual(roles, [Role(name: "Controller", countDefault: 3, servicesDefault: ["a", "b"]), Role(name: "Compute", countDefault: 0, servicesDefault: [])])
        XCTAssertThrowsError(try Role.parseRoles(try ConfigDocument.parse("- CountDefault: 1\n", file: "r.yaml"), file: "r.yaml")) { error in
            XCTAssertEqual("\(error)", "r.yaml: [0].name: expected a role name, found nothing")
        }
    }

    func testDefaultDocumentMatchesTheSeed() {
        XCTAssertEqual(ConfigDocument.serialize(DefaultPrepare.document(for: .stein, localPushDestination: true, registryLogin: false)), """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: true
                set:
                  ceph_image: daemon
                  ceph_namespace: docker.io/ceph
                  ceph_tag: v3.0.3-stable-3.0-luminous-centos-7-x86_64
                  name_prefix: centos-binary-
                  name_suffix: ''
                  namespace: docker.io/tripleomaster
                  neutron_driver: null
                  tag: current-tripleo
                tag_from_label: rdo_version

            """)
    }
}
