import Foundation
import XCTest

@testable import ImagePrepPlan

/// `DockerInsecureRegistryAddress` in the output env file: push destinations, unless a real
/// run reached them over verified TLS, and whatever was reached insecurely.
final class PrepareOutputTests: XCTestCase {
    func images(pushedTo destinations: [String]) throws -> [ResolvedImage] {
        let entries = destinations.map { "{includes: ['binary-keystone:'], push_destination: '\($0)'}" }
        let text = "parameter_defaults: {ContainerImagePrepare: [\(entries.joined(separator: ", "))]}"
        var environment = HeatEnvironment()
        try environment.merge(try ConfigDocument.parse(text, file: "env.yaml"), file: "env.yaml")
        return try Planner(environment: environment, undercloudRegistry: "uc.ctlplane.example:8787").plan()
            .images.map(ResolvedImage.unresolved)
    }

    func testADestinationReachedOverVerifiedTLSIsNotListed() throws {
        let images = try images(pushedTo: ["registry.example:5000", "192.0.2.1:8787"])
        // A dry run reaches nothing: every destination is listed, as before.
        XCTAssertEqual(PrepareOutput.insecureRegistries(images), ["192.0.2.1:8787", "registry.example:5000"])
        XCTAssertEqual(
            PrepareOutput.insecureRegistries(
                images, reachedInsecurely: ["192.0.2.1:8787", "127.0.0.3:5000"], verified: ["registry.example:5000"]),
            ["127.0.0.3:5000", "192.0.2.1:8787"])
        XCTAssertEqual(
            ConfigDocument.serialize(PrepareOutput.environment(images, verified: ["registry.example:5000", "192.0.2.1:8787"])),
            """
            parameter_defaults:
              DockerKeystoneConfigImage: 192.0.2.1:8787/tripleomaster/centos-binary-keystone:current-tripleo
              DockerKeystoneImage: 192.0.2.1:8787/tripleomaster/centos-binary-keystone:current-tripleo

            """)
    }
}
