import Foundation
import ImagePrepPlan
import ImagePrepTestSupport
import XCTest

@testable import ImagePrepBuild

/// Real buildah builds on a real base image with rpm, with hotfix RPMs built
/// by rpmbuild. The base image is built once for the class.
final class ImageModifierTests: XCTestCase {
    nonisolated(unsafe) static var fixture: BuildahFixture?
    nonisolated(unsafe) static var setupError: (any Error)?

    override class func setUp() {
        do { fixture = try BuildahFixture() } catch { setupError = error }
    }

    override class func tearDown() {
        fixture?.remove()
        RPMFixtures.remove()
    }

    private func modifier(keep: Bool = false) throws -> (BuildahFixture, ImageModifier) {
        if let error = Self.setupError { throw error }
        let fixture = try XCTUnwrap(Self.fixture)
        let buildah = Buildah(root: fixture.root, runRoot: fixture.runRoot, storageDriver: "vfs", isolation: "chroot")
        return (fixture, ImageModifier(buildah: buildah, workDirectory: fixture.directory, cleanup: .partial, keepBuildDirectory: keep))
    }

    func testRPMInstallInstallsTheHotfixAndRestoresTheUser() async throws {
        let (fixture, modifier) = try modifier()
        let rpms = try RPMFixtures.build()
        let hotfixes = fixture.directory.appendingPathComponent("hotfixes")
        try FileManager.default.createDirectory(at: hotfixes, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: rpms.new, toPath: hotfixes.appendingPathComponent("hotfix.rpm").path)

        let result = try await modifier.modify(
            sourceImage: fixture.baseImage, task: .rpmInstall(rpmsPath: hotfixes.path), appendTag: "-hotfix", tlsVerify: false,
            pullBase: false)
        defer { result.finish() }
        XCTAssertEqual(result.originalUser, "nova")
        XCTAssertTrue(FileManager.default.fileExists(atPath: result.layout.appendingPathComponent("index.json").path))

        let imported = "localhost/imageprep-test/result:hotfix"
        try fixture.importLayout(result.layout, as: imported)
        XCTAssertEqual(try fixture.run(in: imported, ["rpm", "-q", "hotfix"]).trimmingCharacters(in: .whitespacesAndNewlines), "hotfix-1.1-2.noarch")
        XCTAssertEqual(try fixture.run(in: imported, ["cat", "/usr/share/hotfix/VERSION"]), "hotfix 1.1 fixed\n")
        XCTAssertEqual(try fixture.buildah(["inspect", "--type", "image", "--format", "{{.OCIv1.Config.User}}", imported]).trimmingCharacters(in: .whitespacesAndNewlines), "nova")
        let labels = try fixture.buildah(["inspect", "--type", "image", "--format", "{{.OCIv1.Config.Labels}}", imported])
        XCTAssertTrue(labels.contains("modified_append_tag:-hotfix"), labels)
        XCTAssertTrue(labels.contains("rdo_version:1.0-test"), labels)
        XCTAssertFalse(FileManager.default.fileExists(atPath: result.buildDirectory.appendingPathComponent("context").path))
    }

    func testModifyImageBuildsTheOperatorsDockerfile() async throws {
        let (fixture, modifier) = try modifier()
        let custom = fixture.directory.appendingPathComponent("nova-custom")
        try FileManager.default.createDirectory(at: custom, withIntermediateDirectories: true)
        try """
            FROM docker.io/tripleomaster/centos-binary-nova-compute:latest
            USER root
            COPY customize.sh /tmp/
            RUN /bin/sh /tmp/customize.sh
            USER "nova"
            """.write(to: custom.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        try "echo customized > /etc/customized\n".write(to: custom.appendingPathComponent("customize.sh"), atomically: true, encoding: .utf8)

        let result = try await modifier.modify(
            sourceImage: fixture.baseImage, task: .modifyImage(directory: custom.path), appendTag: "-custom", tlsVerify: false, pullBase: false)
        defer { result.finish() }
        try fixture.importLayout(result.layout, as: "localhost/imageprep-test/result:custom")
        XCTAssertEqual(try fixture.run(in: "localhost/imageprep-test/result:custom", ["cat", "/etc/customized"]), "customized\n")
        let labels = try fixture.buildah(["inspect", "--type", "image", "--format", "{{.OCIv1.Config.Labels}}", "localhost/imageprep-test/result:custom"])
        XCTAssertTrue(labels.contains("modified_append_tag:-custom"), labels)
        // The operator's Dockerfile is left as it was; the build used a copy.
        XCTAssertTrue(try String(contentsOf: custom.appendingPathComponent("Dockerfile"), encoding: .utf8).hasPrefix("FROM docker.io/"))
    }

    func testAFailingHookNamesTheStepShowsBuildahsOutputAndKeepsTheBuildDirectory() async throws {
        let (fixture, modifier) = try modifier(keep: true)
        let rpms = try RPMFixtures.build()
        let hotfixes = fixture.directory.appendingPathComponent("unsatisfiable-rpms")
        try FileManager.default.createDirectory(at: hotfixes, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: rpms.unsatisfiable, toPath: hotfixes.appendingPathComponent("needs-missing.rpm").path)
        do {
            _ = try await modifier.modify(
                sourceImage: fixture.baseImage, task: .rpmInstall(rpmsPath: hotfixes.path), appendTag: "-broken", tlsVerify: false, pullBase: false)
            XCTFail("an RPM whose dependencies are missing must fail the build")
        } catch {
            XCTAssertEqual(error.image, fixture.baseImage)
            XCTAssertEqual(error.step, "build rpm_install.yml")
            XCTAssertTrue(error.message.hasPrefix("buildah bud failed (exit status"), error.description)
            XCTAssertTrue(error.outputTail?.contains("imageprep-no-such-package is needed by needs-missing-1.0-1.noarch") ?? false, error.description)
            let kept = try XCTUnwrap(error.buildDirectory)
            XCTAssertTrue(FileManager.default.fileExists(atPath: kept + "/context/Dockerfile.modified"))
            XCTAssertTrue(error.description.contains("build directory kept: \(kept)"))
        }
    }

    func testACorruptRPMIsRefusedBeforeBuilding() async throws {
        let (fixture, modifier) = try modifier()
        let broken = fixture.directory.appendingPathComponent("corrupt-rpms")
        try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
        let corrupt = broken.appendingPathComponent("corrupt-1.0-1.noarch.rpm")
        try Data("this is not an rpm".utf8).write(to: corrupt)
        do {
            _ = try await modifier.modify(
                sourceImage: fixture.baseImage, task: .rpmInstall(rpmsPath: broken.path), appendTag: "-broken", tlsVerify: false, pullBase: false)
            XCTFail("a corrupt RPM must be refused")
        } catch {
            XCTAssertEqual(error.step, "prepare rpm_install.yml")
            XCTAssertEqual(error.message, "\(corrupt.path): not an RPM file (bad lead magic)")
            XCTAssertNil(error.buildDirectory)
        }
    }
}
