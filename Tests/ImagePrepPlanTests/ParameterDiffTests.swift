import Foundation
import ImagePrepOCI
import XCTest

@testable import ImagePrepPlan

/// `prepare --diff`'s value: the deployed env file's image parameters against a new
/// prepare's, and the deployed file read with one line for what is wrong with it.
final class ParameterDiffTests: XCTestCase {
    let deployed = [
        "ContainerGlanceApiImage": "192.0.2.1:8787/tripleomaster/openstack-glance-api:1.0",
        "ContainerKeystoneImage": "192.0.2.1:8787/tripleomaster/openstack-keystone:1.0",
        "ContainerNovaApiImage": "192.0.2.1:8787/tripleomaster/openstack-nova-api:1.0",
        "ContainerSwiftProxyImage": "192.0.2.1:8787/tripleomaster/openstack-swift-proxy-server:1.0",
    ]

    func testChangedAddedRemovedAndUnchangedParameters() {
        var new = deployed
        new["ContainerKeystoneImage"] = "192.0.2.1:8787/tripleomaster/openstack-keystone:1.1"
        new["ContainerSwiftProxyImage"] = nil
        new["ContainerHeatApiImage"] = "192.0.2.1:8787/tripleomaster/openstack-heat-api:1.1"
        let diff = ParameterDiff(deployed: deployed, new: new)
        XCTAssertEqual(diff.changed, [
            .init(
                name: "ContainerKeystoneImage", old: "192.0.2.1:8787/tripleomaster/openstack-keystone:1.0",
                new: "192.0.2.1:8787/tripleomaster/openstack-keystone:1.1"),
        ])
        XCTAssertEqual(diff.added, [.init(name: "ContainerHeatApiImage", image: "192.0.2.1:8787/tripleomaster/openstack-heat-api:1.1")])
        XCTAssertEqual(
            diff.removed, [.init(name: "ContainerSwiftProxyImage", image: "192.0.2.1:8787/tripleomaster/openstack-swift-proxy-server:1.0")])
        XCTAssertEqual(diff.unchanged, ["ContainerGlanceApiImage", "ContainerNovaApiImage"])
        XCTAssertEqual(diff.digestChanged, [])
        XCTAssertFalse(diff.isEmpty)
    }

    func testEqualParametersAreNoDifference() {
        let diff = ParameterDiff(deployed: deployed, new: deployed)
        XCTAssertTrue(diff.isEmpty)
        XCTAssertEqual(diff.unchanged, deployed.keys.sorted())
        XCTAssertEqual(diff.changed, [])
        XCTAssertEqual(diff.added + diff.removed, [])
    }

    /// Only the tag's content changed: a difference once the workflow adds it, with a null
    /// `deployed` in JSON when the destination holds nothing under the name.
    func testADigestChangeIsADifferenceAndEncodesBothDigests() throws {
        var diff = ParameterDiff(deployed: deployed, new: deployed)
        let old = Digest(of: Data("old".utf8))
        let new = Digest(of: Data("new".utf8))
        diff.digestChanged = [
            .init(name: "ContainerGlanceApiImage", image: deployed["ContainerGlanceApiImage"]!, deployed: old, new: new),
            .init(name: "ContainerNovaApiImage", image: deployed["ContainerNovaApiImage"]!, deployed: nil, new: new),
        ]
        XCTAssertFalse(diff.isEmpty)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: encoder.encode(diff)) as? [String: Any])
        XCTAssertEqual(Set(json.keys), ["added", "changed", "digest_changed", "removed", "unchanged"])
        let changes = try XCTUnwrap(json["digest_changed"] as? [[String: Any]])
        XCTAssertEqual(changes.count, 2)
        XCTAssertEqual(changes[0]["deployed"] as? String, old.description)
        XCTAssertEqual(changes[0]["new"] as? String, new.description)
        XCTAssertTrue(changes[1]["deployed"] is NSNull, "\(changes[1])")
    }

    // MARK: - The deployed env file

    func testDeployedParametersAreTheImageParametersOfParameterDefaults() throws {
        let text = """
            parameter_defaults:
              ContainerKeystoneImage: 192.0.2.1:8787/tripleomaster/openstack-keystone:1.0
              MyTemplatesParameter: 192.0.2.1:8787/tripleomaster/mine:1.0
              NeutronMechanismDrivers: [ovn]
              DockerInsecureRegistryAddress:
              - 192.0.2.1:8787
            """
        let document = try ConfigDocument.parse(text, file: "deployed.yaml")
        XCTAssertEqual(
            try ParameterDiff.deployedParameters(document, file: "deployed.yaml"),
            ["ContainerKeystoneImage": "192.0.2.1:8787/tripleomaster/openstack-keystone:1.0"])
        // A parameter the new prepare writes counts whatever its name.
        XCTAssertEqual(
            try ParameterDiff.deployedParameters(document, file: "deployed.yaml", names: ["MyTemplatesParameter"]).keys.sorted(),
            ["ContainerKeystoneImage", "MyTemplatesParameter"])
    }

    /// `<Role>Parameters` mappings (a role's own images) are read only when asked, each of
    /// their image parameters named `<Role>Parameters.NAME`; a bad one names its place.
    func testRoleParametersAreReadUnderTheirRolesName() throws {
        let text = """
            parameter_defaults:
              ContainerNovaComputeImage: 192.0.2.1:8787/tripleomaster/openstack-nova-compute:1.0
              ComputeParameters:
                ContainerNovaComputeImage: 192.0.2.1:8787/tripleomaster/openstack-nova-compute:1.0-hotfix
                DockerInsecureRegistryAddress: [192.0.2.1:8787]
              StorageParameters: {}
              ExtraParameters: not a mapping
            """
        let document = try ConfigDocument.parse(text, file: "deployed.yaml")
        XCTAssertEqual(
            try ParameterDiff.deployedParameters(document, file: "deployed.yaml").keys.sorted(), ["ContainerNovaComputeImage"])
        XCTAssertEqual(try ParameterDiff.deployedParameters(document, file: "deployed.yaml", roleParameters: true), [
            "ContainerNovaComputeImage": "192.0.2.1:8787/tripleomaster/openstack-nova-compute:1.0",
            "ComputeParameters.ContainerNovaComputeImage": "192.0.2.1:8787/tripleomaster/openstack-nova-compute:1.0-hotfix",
        ])
        XCTAssertEqual(ParameterDiff.name("ContainerNovaComputeImage", role: nil), "ContainerNovaComputeImage")
        XCTAssertEqual(ParameterDiff.name("ContainerNovaComputeImage", role: "ComputeParameters"), "ComputeParameters.ContainerNovaComputeImage")

        let bad = try ConfigDocument.parse(
            "parameter_defaults:\n  ComputeParameters:\n    ContainerNovaComputeImage: [a]\n", file: "deployed.yaml")
        XCTAssertThrowsError(try ParameterDiff.deployedParameters(bad, file: "deployed.yaml", roleParameters: true)) { error in
            XCTAssertEqual(
                "\(error)",
                "deployed.yaml: parameter_defaults.ComputeParameters.ContainerNovaComputeImage: expected an image such as host/namespace/name:tag, found a list")
        }
    }

    func testABadDeployedFileIsOneLineNamingTheFileAndWhatWasExpected() throws {
        let cases: [(String, String)] = [
            (
                "parameter_defaults:\n  ContainerImagePrepare:\n  - set: {tag: current-tripleo}\n",
                "prepare.yaml: parameter_defaults: expected the image parameters of an earlier prepare's --output-env-file (such as ContainerNovaApiImage: host/namespace/name:tag), found none"
            ),
            (
                "resource_registry: {}\n",
                "prepare.yaml: parameter_defaults: expected the image parameters of an earlier prepare's --output-env-file (such as ContainerNovaApiImage: host/namespace/name:tag), found no parameter_defaults"
            ),
            (
                "- a\n- b\n",
                "prepare.yaml: parameter_defaults: expected the image parameters of an earlier prepare's --output-env-file (such as ContainerNovaApiImage: host/namespace/name:tag), found a list as the document"
            ),
            (
                "parameter_defaults: [a]\n",
                "prepare.yaml: parameter_defaults: expected the image parameters of an earlier prepare's --output-env-file (such as ContainerNovaApiImage: host/namespace/name:tag), found a list"
            ),
            (
                "parameter_defaults:\n  ContainerKeystoneImage: {tag: 1}\n",
                "prepare.yaml: parameter_defaults.ContainerKeystoneImage: expected an image such as host/namespace/name:tag, found a mapping"
            ),
            (
                "parameter_defaults:\n  ContainerKeystoneImage: ''\n",
                "prepare.yaml: parameter_defaults.ContainerKeystoneImage: expected an image such as host/namespace/name:tag, found an empty string"
            ),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(
                try ParameterDiff.deployedParameters(try ConfigDocument.parse(text, file: "prepare.yaml"), file: "prepare.yaml"), text
            ) { error in
                XCTAssertEqual("\(error)", message)
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
    }
}
