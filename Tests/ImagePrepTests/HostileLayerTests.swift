import Foundation
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest
import ImagePrepOCI

/// Package inventories of images whose layers are hostile (`HostileLayers`): each is pushed as
/// an image's only layer to a real `docker-registry` and read by the built binary through two
/// inventory paths (`image packages`, `hotfix plan`) under a watchdog. Every run ends with
/// status 0 or 1 (never a signal or a hang), a failure is one line naming the image and no
/// scratch path, and nothing is written outside the extraction directory: the paths that
/// try to escape point at a canary directory that must stay as it was.
final class HostileLayerTests: XCTestCase {
    struct Image {
        var name: String
        var reference: String
        var layer: Digest
    }

    nonisolated(unsafe) static var registry: RegistryServer!
    nonisolated(unsafe) static var work: URL!
    nonisolated(unsafe) static var images: [Image] = []
    static let canaryText = "the canary\n"

    static var canary: URL { work.appendingPathComponent("canary") }
    /// `TMPDIR` of the runs: their extraction directories are made here.
    static var scratch: URL { work.appendingPathComponent("tmp") }

    override class func setUp() {
        super.setUp()
        do {
            registry = try RegistryServer()
            work = try CLI.temporaryDirectory()
            try FileManager.default.createDirectory(at: canary, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            try canaryText.write(to: canary.appendingPathComponent("keep"), atomically: true, encoding: .utf8)
            let layers = try HostileLayers.generate(canary: canary, in: work)
            let client = RegistryClient(configuration: .init(insecureRegistries: [registry.address]))
            images = try runBlocking {
                var images: [Image] = []
                for layer in layers {
                    let repository = "hostile/" + layer.name.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "-" }
                    images.append(try await push(client, layer.data, name: layer.name, to: "\(registry.address)/\(repository):1"))
                }
                return images
            }
        } catch {
            fatalError("cannot set up the hostile layers: \(error)")
        }
    }

    override class func tearDown() {
        registry?.stop()
        if let work { try? FileManager.default.removeItem(at: work) }
        RPMFixtures.remove()
        super.tearDown()
    }

    static func push(_ client: RegistryClient, _ layer: Data, name: String, to target: String) async throws -> Image {
        let reference = try Reference(target)
        let descriptor = try await client.pushBlob(layer, mediaType: .dockerLayer, to: reference)
        let config = try JSONEncoder().encode(ImageConfig(architecture: "amd64", os: "linux", config: ContainerConfig()))
        let configDescriptor = try await client.pushBlob(config, mediaType: .dockerConfig, to: reference)
        let manifest = try JSONEncoder().encode(Manifest(config: configDescriptor, layers: [descriptor]))
        try await client.pushManifest(manifest, mediaType: .dockerManifest, to: reference)
        return Image(name: name, reference: target, layer: descriptor.digest)
    }

    /// A run of the binary with `TMPDIR` in the scratch directory, under a 120 s watchdog.
    func run(_ arguments: [String]) throws -> CLI.Watched {
        try CLI.run(
            arguments + ["--insecure-registry", Self.registry.address, "--no-cache"], timeout: 120,
            environment: ["TMPDIR": Self.scratch.path])
    }

    /// Checks how one run ended; returns whether it was clean.
    @discardableResult
    func checkClean(_ run: CLI.Watched, _ image: Image, _ what: String) -> Bool {
        let output = run.output
        let context = "\(what) \(image.name): status \(output.status), stderr: \(output.stderr)"
        var clean = true
        func expect(_ condition: Bool, _ message: String) {
            if !condition {
                clean = false
                XCTFail("\(message): \(context)")
            }
        }
        expect(!run.timedOut, "hung (killed by the watchdog)")
        expect(run.signal == nil, "ended by signal \(run.signal ?? 0)")
        expect(output.status == 0 || output.status == 1, "exit status is neither 0 nor 1")
        if output.status == 1 {
            expect(output.stderr.contains(image.reference), "the error does not name the image")
            expect(output.stderr.split(separator: "\n").count == 1, "the error is not one line")
        }
        for leak in [Self.scratch.path, "imageprep-rpmdb", "NSCocoaErrorDomain", "Error Domain="] {
            expect(!output.stderr.contains(leak) && !output.stdout.contains(leak), "the output shows \(leak)")
        }
        return clean
    }

    func checkNothingEscaped() throws {
        let canary = try FileManager.default.contentsOfDirectory(atPath: Self.canary.path)
        XCTAssertEqual(canary, ["keep"], "something was written into the canary directory")
        XCTAssertEqual(try String(contentsOf: Self.canary.appendingPathComponent("keep"), encoding: .utf8), Self.canaryText)
        let left = try FileManager.default.contentsOfDirectory(atPath: Self.scratch.path)
        XCTAssertEqual(left, [], "extraction directories are removed")
    }

    func testEveryHostileLayerEndsCleanlyThroughTwoInventoryPaths() throws {
        let rpms = Self.work.appendingPathComponent("rpms")
        try FileManager.default.createDirectory(at: rpms, withIntermediateDirectories: true)
        let hotfix = rpms.appendingPathComponent("hotfix.rpm")
        if !FileManager.default.fileExists(atPath: hotfix.path) {
            try FileManager.default.copyItem(atPath: try RPMFixtures.build().new, toPath: hotfix.path)
        }
        XCTAssertGreaterThanOrEqual(Self.images.count, 50)
        var tried = 0
        var clean = 0
        var failed: [String: String] = [:]
        for image in Self.images {
            let packages = try run(["image", "packages", image.reference])
            let plan = try run(["hotfix", "plan", "--rpms-path", rpms.path, image.reference])
            tried += 2
            if checkClean(packages, image, "image packages") { clean += 1 }
            if checkClean(plan, image, "hotfix plan") { clean += 1 }
            // Both paths read the same inventory: the same outcome.
            XCTAssertEqual(packages.output.status, plan.output.status, image.name)
            if packages.output.status == 1 { failed[image.name] = packages.output.stderr }
            // No run lists the host's packages for an image (a link to the host's database).
            XCTAssertFalse(packages.output.stdout.contains("-"), "\(image.name): \(packages.output.stdout)")
        }
        try checkNothingEscaped()
        print("hostile layers: \(Self.images.count) layers, \(tried) runs, \(clean) clean, \(failed.count) layers refused")

        // What some of them say.
        XCTAssertTrue(failed["12-claims-8gib.tar"]?.contains(
            "var/lib/rpm/Packages: 8589934592 bytes or more, over the limit of 2147483648 bytes (--max-rpmdb-size)") == true,
            failed["12-claims-8gib.tar"] ?? "exit 0")
        // Links to the canary (or the host's own database) are never read as the image's.
        for name in ["09-symlink-db-file.tar", "10-hardlink-outside.tar", "10-hardlink-directory.tar", "11-devices.tar"] {
            XCTAssertTrue(failed[name]?.contains("no rpm database") == true, "\(name): \(failed[name] ?? "exit 0")")
        }
        // A symlinked var/lib/rpm is not made: the layer's own Packages lands in a directory.
        XCTAssertTrue(failed["09-symlink-rpmdir.tar"]?.contains(
            "the host's rpm cannot read this image's Berkeley DB rpm database: /var/lib/rpm/Packages: ") == true,
            failed["09-symlink-rpmdir.tar"] ?? "exit 0")
        XCTAssertTrue(failed["13-name-9000.tar"]?.contains("File name too long") == true, failed["13-name-9000.tar"] ?? "exit 0")
        let layer = try XCTUnwrap(Self.images.first { $0.name == "05-truncated-data.tar" }).layer
        XCTAssertTrue(failed["05-truncated-data.tar"]?.contains("layer \(layer): ") == true, failed["05-truncated-data.tar"] ?? "exit 0")
    }

    func testACompressionBombIsCappedByMaxRpmdbSize() throws {
        let bomb = try XCTUnwrap(Self.images.first { $0.name == "14-bomb-64mib.tar.gz" })
        let capped = try run(["image", "packages", bomb.reference, "--max-rpmdb-size", "16"])
        checkClean(capped, bomb, "image packages")
        XCTAssertEqual(capped.output.status, 1)
        XCTAssertTrue(capped.output.stderr.contains(
            "\(bomb.reference): layer \(bomb.layer): var/lib/rpm/Packages: 67108864 bytes or more, over the limit of 16777216 bytes (--max-rpmdb-size)"),
            capped.output.stderr)
        let bad = try CLI.run(["image", "packages", bomb.reference, "--max-rpmdb-size", "0"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--max-rpmdb-size must be between 1 and 1048576 MiB"), bad.stderr)
        try checkNothingEscaped()
    }

    /// `--max-rpmdb-size` caps the rpm database files in all, not only each: 64 files of
    /// 1 MiB (a 64 KiB layer) are refused under a 16 MiB cap, as are 5000 entries.
    func testManyFilesEachUnderTheCapAreCappedInAllAndInNumber() throws {
        let many = try XCTUnwrap(Self.images.first { $0.name == "15-many-files-64mib.tar.gz" })
        let capped = try run(["image", "packages", many.reference, "--max-rpmdb-size", "16"])
        checkClean(capped, many, "image packages")
        XCTAssertEqual(capped.output.status, 1)
        XCTAssertTrue(capped.output.stderr.contains(
            "\(many.reference): layer \(many.layer): var/lib/rpm/__db.016: the files extracted add up to 17825792 bytes or more, over the limit of 16777216 bytes in all (--max-rpmdb-size)"),
            capped.output.stderr)
        let entries = try XCTUnwrap(Self.images.first { $0.name == "15-many-entries-5000.tar.gz" })
        let counted = try run(["image", "packages", entries.reference])
        checkClean(counted, entries, "image packages")
        XCTAssertTrue(counted.output.stderr.contains(
            "\(entries.reference): layer \(entries.layer): var/lib/rpm/f01000: more than 1000 entries extracted, over the limit"),
            counted.output.stderr)
        try checkNothingEscaped()
    }

    /// The registry serves other bytes than the digest names, in the tar's end padding: the
    /// archive reads well, only the digest, checked to the layer's last byte, shows it.
    func testALayerThatDoesNotMatchItsDigestIsAnErrorNamingImageAndLayer() async throws {
        let valid = try XCTUnwrap(HostileLayers.generate(canary: Self.canary, in: Self.work).first { $0.name == "01-no-rpmdb.tar" })
        let client = RegistryClient(configuration: .init(insecureRegistries: [Self.registry.address]))
        let image = try await Self.push(client, valid.data, name: "tampered", to: "\(Self.registry.address)/hostile/tampered:1")
        var tampered = valid.data
        tampered[tampered.count - 1] = 0x55
        try Self.registry.replaceBlob(image.layer.description, with: tampered)

        let result = try run(["image", "packages", image.reference])
        checkClean(result, image, "image packages")
        XCTAssertEqual(result.output.status, 1)
        XCTAssertTrue(result.output.stderr.contains("\(image.reference): layer \(image.layer): "), result.output.stderr)
        XCTAssertTrue(result.output.stderr.contains("does not match its digest"), result.output.stderr)
        try checkNothingEscaped()
    }
}
