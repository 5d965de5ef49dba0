import Foundation
import XCTest

@testable import ImagePrepPlan

/// `DockerInsecureRegistryAddress` in the output env file: the registries the written
/// parameters name that are insecure (push destinations unless a real run reached them over
/// verified TLS, marked ones, and ones reached insecurely), as upstream lists them.
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
        // The second entry re-points keystone's images: only its destination is written, so
        // only it is listed, in a dry run (which reaches nothing) as in a real one; a source
        // reached insecurely that no parameter names is not listed.
        XCTAssertEqual(PrepareOutput.insecureRegistries(images), ["192.0.2.1:8787"])
        XCTAssertEqual(
            PrepareOutput.insecureRegistries(
                images, reachedInsecurely: ["192.0.2.1:8787", "127.0.0.3:5000"], verified: ["registry.example:5000"]),
            ["192.0.2.1:8787"])
        // A registry marked insecure is listed when a parameter names it.
        XCTAssertEqual(
            PrepareOutput.insecureRegistries(
                images, verified: ["192.0.2.1:8787"], marked: ["192.0.2.1:8787", "198.51.100.7:5000"]),
            ["192.0.2.1:8787"])
        XCTAssertEqual(
            ConfigDocument.serialize(PrepareOutput.environment(images, verified: ["registry.example:5000", "192.0.2.1:8787"])),
            """
            parameter_defaults:
              DockerKeystoneConfigImage: 192.0.2.1:8787/tripleomaster/centos-binary-keystone:current-tripleo
              DockerKeystoneImage: 192.0.2.1:8787/tripleomaster/centos-binary-keystone:current-tripleo

            """)
    }
}
