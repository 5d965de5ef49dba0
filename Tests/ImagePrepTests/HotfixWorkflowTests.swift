import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// Upstream's hotfix workflow (`openstack tripleo container image hotfix`, then `image push
/// --local`) through imageprep: `hotfix apply` with several `--image`s, results in local
/// container storage (a private buildah storage) or at a push destination, and `image copy`
/// with `containers-storage:` on either side. Real docker-registry processes, real buildah
/// and real RPMs built with rpmbuild.
final class HotfixWorkflowTests: XCTestCase {
    nonisolated(unsafe) static var fixture: Result<ModificationFixture, any Error>?
    static let repositories = ["tripleomaster/openstack-nova-api", "tripleomaster/openstack-nova-compute"]

    override class func setUp() {
        fixture = Result { try ModificationFixture(seeding: repositories) }
    }

    override class func tearDown() {
        if let fixture = try? fixture?.get() { fixture.stop() }
        RPMFixtures.remove()
    }

    func rpmsDirectory() throws -> URL {
        let directory = try CLI.temporaryDirectory()
        try FileManager.default.copyItem(atPath: try RPMFixtures.build().new, toPath: directory.appendingPathComponent("hotfix.rpm").path)
        return directory
    }

    func storageOptions(_ fixture: ModificationFixture) -> [String] {
        ["--buildah-root", fixture.buildah.root, "--buildah-runroot", fixture.buildah.runRoot, "--storage-driver", "vfs"]
    }

    func localNames(_ fixture: ModificationFixture) throws -> [String] {
        try fixture.buildah.buildah(["images", "--format", "{{.Name}}:{{.Tag}}"])
            .split(separator: "\n").map(String.init).sorted()
    }

    func testHotfixApplyKeepsResultsLocallyAndImageCopyPushesThem() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, destination) = (fixture.source.address, fixture.destination.address)
        let rpms = try rpmsDirectory()
        defer { try? FileManager.default.removeItem(at: rpms) }
        let options = ["--insecure-registry", source, "--insecure-registry", destination] + storageOptions(fixture)
        let images = Self.repositories.map { "\(source)/\($0):current-tripleo" }
        let apply = ["hotfix", "apply", "--image", images[0], "--image", images[1], "--rpms-path", rpms.path, "--tag", "hf1"] + options

        let first = try CLI.run(apply)
        XCTAssertEqual(first.status, 0, first.stderr)
        let lines = first.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, first.stdout)
        for (line, image) in zip(lines, images) {
            XCTAssertTrue(line.hasPrefix("built containers-storage:\(image)-hf1 (rpm_install.yml, layer engine, hotfix-3:1.1-2.noarch installed"), line)
            // The base layer went into local storage too: it is copied, not taken as present.
            XCTAssertTrue(line.contains("; base layers: 0 present, 0 mounted, 1 copied ("), line)
        }
        // Each result is a whole image of local storage with the hotfix installed.
        for image in images {
            XCTAssertEqual(try fixture.buildah.run(in: "\(image)-hf1", ["/usr/bin/rpm", "-q", "hotfix"]).trimmingCharacters(in: .whitespacesAndNewlines),
                           "hotfix-1.1-2.noarch")
        }
        let names = try localNames(fixture)
        XCTAssertFalse(names.contains { $0.contains("imageprep-local") }, "the hand-off layout leaves no name behind: \(names)")

        let again = try CLI.run(apply)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout, images.map { "skipped containers-storage:\($0)-hf1 (already there)\n" }.joined())

        // Upstream's `image push --local IMAGE --registry-url R`, with its --cleanup.
        let push = try CLI.run(["image", "copy", "--local", "\(images[0])-hf1", "--registry-url", destination, "--cleanup"] + options)
        XCTAssertEqual(push.status, 0, push.stderr)
        let pushed = "\(destination)/\(Self.repositories[0]):current-tripleo-hf1"
        XCTAssertTrue(push.stdout.hasPrefix("copied \(pushed) sha256:"), push.stdout)
        XCTAssertTrue(push.stdout.hasSuffix("removed containers-storage:\(images[0])-hf1 from local storage\n"), push.stdout)
        XCTAssertFalse(try localNames(fixture).contains("\(images[0])-hf1"))
        let packages = try CLI.run(["image", "packages", pushed, "--insecure-registry", destination])
        XCTAssertEqual(packages.status, 0, packages.stderr)
        XCTAssertTrue(packages.stdout.split(separator: "\n").contains("hotfix-3:1.1-2.noarch"), packages.stdout)

        // A registry image into local storage, then another name for it there.
        let pulled = "containers-storage:localhost/hotfix-test/pulled:1"
        let load = try CLI.run(["image", "copy", pushed, pulled] + options)
        XCTAssertEqual(load.status, 0, load.stderr)
        XCTAssertTrue(load.stdout.hasPrefix("copied \(pulled) (local image "), load.stdout)
        XCTAssertEqual(try fixture.buildah.run(in: "localhost/hotfix-test/pulled:1", ["/bin/cat", "/usr/share/hotfix/VERSION"]), "hotfix 1.1 fixed\n")
        let tagged = try CLI.run(["image", "copy", pulled, "containers-storage:localhost/hotfix-test/again:1"] + options)
        XCTAssertEqual(tagged.status, 0, tagged.stderr)
        XCTAssertTrue(tagged.stdout.hasPrefix("tagged containers-storage:localhost/hotfix-test/again:1 (local image "), tagged.stdout)
        XCTAssertTrue(try localNames(fixture).contains("localhost/hotfix-test/again:1"))

        // One image that cannot be read: the others are still hotfixed, the run fails naming it.
        let missing = "\(source)/tripleomaster/openstack-missing:current-tripleo"
        let partial = try CLI.run(["hotfix", "apply", "--image", missing, "--image", images[1], "--rpms-path", rpms.path, "--tag", "hf2"] + options)
        XCTAssertEqual(partial.status, 1)
        XCTAssertTrue(partial.stdout.hasPrefix("built containers-storage:\(images[1])-hf2 ("), partial.stdout)
        XCTAssertTrue(partial.stderr.hasPrefix("failed \(missing): "), partial.stderr)
        XCTAssertTrue(partial.stderr.contains("not found (HTTP 404)"), partial.stderr)
        XCTAssertTrue(partial.stderr.hasSuffix("Error: 1 of 2 image(s) not hotfixed\n"), partial.stderr)
    }

    func testHotfixApplyToAPushDestination() throws {
        let fixture = try XCTUnwrap(Self.fixture).get()
        let (source, destination) = (fixture.source.address, fixture.destination.address)
        let rpms = try rpmsDirectory()
        defer { try? FileManager.default.removeItem(at: rpms) }
        let options = ["--insecure-registry", source, "--insecure-registry", destination] + storageOptions(fixture)
        let apply = ["hotfix", "apply", "--rpms-path", rpms.path, "--tag", "pushed", "--push-destination", destination]
            + Self.repositories.flatMap { ["--image", "\(source)/\($0):1.0-test"] } + options
        let before = try localNames(fixture)

        let run = try CLI.run(apply)
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.map { $0.components(separatedBy: " (").first! },
                       Self.repositories.map { "built \(destination)/\($0):1.0-test-pushed" })
        XCTAssertEqual(try localNames(fixture), before, "nothing is left in local storage")
        for repository in Self.repositories {
            let packages = try CLI.run(["image", "packages", "\(destination)/\(repository):1.0-test-pushed", "--insecure-registry", destination])
            XCTAssertTrue(packages.stdout.split(separator: "\n").contains("hotfix-3:1.1-2.noarch"), packages.stdout + packages.stderr)
        }
        let again = try CLI.run(apply)
        XCTAssertEqual(again.stdout, Self.repositories.map { "skipped \(destination)/\($0):1.0-test-pushed (already there)\n" }.joined())

        // Bad input: one line each, before anything runs.
        let noImage = try CLI.run(["hotfix", "apply", "--rpms-path", rpms.path])
        XCTAssertEqual(noImage.status, 2)
        XCTAssertTrue(noImage.stderr.hasPrefix("Error: give at least one --image\n"), noImage.stderr)
        let noRPMs = try CLI.run(["hotfix", "apply", "--image", "\(source)/a/b:1", "--rpms-path", rpms.appendingPathComponent("none").path])
        XCTAssertEqual(noRPMs.status, 1)
        XCTAssertEqual(noRPMs.stderr, "Error: --rpms-path \(rpms.appendingPathComponent("none").path): not a directory of RPMs\n")
    }
}
