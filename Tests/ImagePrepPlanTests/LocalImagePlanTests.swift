import Foundation
import XCTest

@testable import ImagePrepPlan

/// Locally built images (`containers-storage:NAME`) in the plan: the documentation's
/// layering example with the image read from local container storage.
final class LocalImagePlanTests: XCTestCase {
    private func plan(_ text: String) throws -> PreparePlan {
        var environment = HeatEnvironment()
        try environment.merge(try ConfigDocument.parse(text, file: "env.yaml"), file: "env.yaml")
        return try Planner(environment: environment, roles: nil, undercloudRegistry: "uc.ctlplane.example:8787", now: Date()).plan()
    }

    func testALocalImageKeepsItsWholePathAtThePushDestination() {
        XCTAssertEqual(
            ImageName.rehome("containers-storage:mylocal/centos-binary-nova-api:myhotfix", to: "192.168.24.1:8787"),
            "192.168.24.1:8787/mylocal/centos-binary-nova-api:myhotfix")
        // podman's name for it, with the localhost registry, goes to the same place.
        XCTAssertEqual(
            ImageName.rehome("containers-storage:localhost/mylocal/centos-binary-nova-api:myhotfix", to: "192.168.24.1:8787"),
            "192.168.24.1:8787/mylocal/centos-binary-nova-api:myhotfix")
        XCTAssertTrue(ImageName.isLocal("containers-storage:mylocal/x:1"))
        XCTAssertFalse(ImageName.isLocal("docker.io/mylocal/x:1"))
    }

    func testTheLayeringExampleWithALocallyBuiltImage() throws {
        let plan = try plan(
            """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: 192.168.24.1:8787
                includes: [nova-api]
                set: {namespace: 'containers-storage:mylocal', tag: myhotfix}
            """)
        let images = plan.images.map { ($0.imageName, $0.targetName()) }
        XCTAssertFalse(images.isEmpty)
        for (name, target) in images {
            XCTAssertTrue(name.hasPrefix("containers-storage:mylocal/"), name)
            XCTAssertEqual(target, "192.168.24.1:8787/" + name.dropFirst("containers-storage:".count))
        }
        XCTAssertTrue(images.contains { $0.1 == "192.168.24.1:8787/mylocal/centos-binary-nova-api:myhotfix" }, "\(images)")
    }

    func testALocalImageIsNotModifiedAndNeedsAPushDestination() {
        func error(_ text: String) -> String {
            do {
                _ = try plan(text)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(
            error(
                """
                parameter_defaults:
                  ContainerImagePrepare:
                  - push_destination: 192.168.24.1:8787
                    includes: ['nova-api:']
                    set: {namespace: 'containers-storage:mylocal', tag: myhotfix}
                    modify_role: tripleo-modify-image
                    modify_vars: {tasks_from: yum_update.yml}
                """),
            "env.yaml: ContainerImagePrepare[0].modify_role: containers-storage:mylocal/centos-binary-nova-api:myhotfix is a "
                + "locally built image: local images are copied as they are, not modified (build the change into the image, "
                + "or modify a registry image)")
        XCTAssertEqual(
            error(
                """
                parameter_defaults:
                  ContainerImagePrepare:
                  - includes: ['nova-api:']
                    set: {namespace: 'containers-storage:mylocal', tag: myhotfix}
                """),
            "env.yaml: ContainerImagePrepare[0]: containers-storage:mylocal/centos-binary-nova-api:myhotfix is in local "
                + "container storage: it needs a push_destination to be deployable")
    }
}
