import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// A run ended by SIGTERM, SIGINT or SIGHUP in the middle of a buildah build removes buildah's
/// private `auth.json` (the password, base64) and the build directory; a run killed outright
/// leaves them to the next run, which removes them by their owner's PID. buildah is replaced
/// by a stall (a `buildah` first in `PATH` that waits), the one thing a real build cannot be
/// made to do on cue; the registry is a real `docker-registry`.
final class SignalCleanupTests: XCTestCase {
    nonisolated(unsafe) static var registry: RegistryServer!
    nonisolated(unsafe) static var image = ""

    override class func setUp() {
        super.setUp()
        do {
            registry = try RegistryServer()
            let client = RegistryClient(configuration: .init(insecureRegistries: [registry.address]))
            let reference = try Reference("\(registry.address)/signal/base:1")
            image = reference.description
            try runBlocking {
                let layer = try await client.pushBlob(Data("not a real layer".utf8), mediaType: .dockerLayer, to: reference)
                let config = try JSONEncoder().encode(ImageConfig(architecture: "amd64", os: "linux", config: ContainerConfig()))
                let configDescriptor = try await client.pushBlob(config, mediaType: .dockerConfig, to: reference)
                let manifest = try JSONEncoder().encode(Manifest(config: configDescriptor, layers: [layer]))
                try await client.pushManifest(manifest, mediaType: .dockerManifest, to: reference)
            }
        } catch {
            fatalError("cannot start the registry: \(error)")
        }
    }

    override class func tearDown() {
        registry?.stop()
        super.tearDown()
    }

    struct Setup {
        var work: URL
        var scratch: URL
        var bin: URL
        var arguments: [String]
        var environment: [String: String]
    }

    /// A work directory, `buildah` given as `script`, and the `modify` command line.
    func setup(buildah script: String) throws -> Setup {
        let work = try CLI.temporaryDirectory()
        let scratch = work.appendingPathComponent("tmp")
        let bin = work.appendingPathComponent("bin")
        let context = work.appendingPathComponent("context")
        for directory in [scratch, bin, context] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        try "#!/bin/sh\n\(script)\n".write(to: bin.appendingPathComponent("buildah"), atomically: true, encoding: .utf8)
        chmod(bin.appendingPathComponent("buildah").path, 0o755)
        try "FROM base\nRUN true\n".write(to: context.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        let auth = work.appendingPathComponent("auth.json")
        let secret = Data("operator:the-password".utf8).base64EncodedString()
        try #"{"auths": {"\#(Self.registry.address)": {"auth": "\#(secret)"}}}"#.write(to: auth, atomically: true, encoding: .utf8)
        let arguments = [
            "modify", Self.image, "\(Self.registry.address)/signal/modified:1", "--tasks-from", "modify_image",
            "--modify-dir-path", context.path, "--engine", "buildah", "--authfile", auth.path, "--work-dir", scratch.path,
            "--insecure-registry", Self.registry.address, "--no-cache",
        ]
        let path = bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return Setup(work: work, scratch: scratch, bin: bin, arguments: arguments,
                     environment: CLI.binaryEnvironment(["PATH": path, "TMPDIR": scratch.path]))
    }

    func entries(_ setup: Setup) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: setup.scratch.path).sorted()
    }

    /// Starts `modify` (through `launcher`, e.g. nohup, when given) and waits until the stalled
    /// buildah runs; returns the process and the stall's PID.
    func startStalled(_ setup: Setup, launcher: [String] = []) throws -> (Process, Int32?) {
        let process = Process()
        process.executableURL = launcher.isEmpty ? CLI.binary : URL(fileURLWithPath: launcher[0])
        process.arguments = launcher.isEmpty ? setup.arguments : Array(launcher.dropFirst()) + [CLI.binary.path] + setup.arguments
        process.environment = setup.environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pidFile = setup.bin.appendingPathComponent("buildah.pid")
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: pidFile.path), Date() < deadline, process.isRunning {
            usleep(50_000)
        }
        usleep(50_000)
        let stalled = (try? String(contentsOf: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return (process, stalled)
    }

    static let stall = "echo $$ > \"$(dirname \"$0\")/buildah.pid\"\nexec sleep 120"

    func testASignalDuringABuildRemovesTheLoginsAndTheBuildDirectory() throws {
        for number in [SIGTERM, SIGINT, SIGHUP] {
            let setup = try setup(buildah: Self.stall)
            defer { try? FileManager.default.removeItem(at: setup.work) }
            let (process, stalled) = try startStalled(setup)
            defer { if let stalled { kill(stalled, SIGKILL) } }
            XCTAssertNotNil(stalled, "buildah was never started")
            // While buildah runs: the private logins and the build directory are there.
            let during = try entries(setup)
            let access = try XCTUnwrap(during.first { $0.hasPrefix("imageprep-access-\(process.processIdentifier)-") }, "\(during)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: setup.scratch.appendingPathComponent("\(access)/auth.json").path))
            XCTAssertTrue(during.contains { $0.hasPrefix("imageprep-build-\(process.processIdentifier)-") }, "\(during)")

            kill(process.processIdentifier, number)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .uncaughtSignal, "signal \(number)")
            XCTAssertEqual(process.terminationStatus, number)
            XCTAssertEqual(try entries(setup), [], "signal \(number) left them behind")
        }
    }

    /// Under `nohup` SIGHUP stays ignored: the run goes on; SIGTERM still cleans up.
    func testSIGHUPStaysIgnoredUnderNohup() throws {
        let setup = try setup(buildah: Self.stall)
        defer { try? FileManager.default.removeItem(at: setup.work) }
        let (process, stalled) = try startStalled(setup, launcher: ["/usr/bin/nohup"])
        defer { if let stalled { kill(stalled, SIGKILL) } }
        XCTAssertNotNil(stalled, "buildah was never started")
        kill(process.processIdentifier, SIGHUP)
        usleep(500_000)
        XCTAssertTrue(process.isRunning, "SIGHUP ended a run under nohup")
        XCTAssertEqual(try entries(setup).count, 2)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, SIGTERM)
        XCTAssertEqual(try entries(setup), [])
    }

    func testTheNextRunRemovesWhatAKilledRunLeftByItsPID() throws {
        let setup = try setup(buildah: "exit 1")
        defer { try? FileManager.default.removeItem(at: setup.work) }
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let killed = ["imageprep-access-\(dead.processIdentifier)-00000000000000aa", "imageprep-build-\(dead.processIdentifier)-1a2b3c4d"]
        for name in killed {
            try FileManager.default.createDirectory(at: setup.scratch.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        try Data("{\"auths\": {}}".utf8).write(to: setup.scratch.appendingPathComponent("\(killed[0])/auth.json"))
        // A live run's (this test's own PID) and a kept build directory stay.
        let live = "imageprep-build-\(getpid())-5e6f7a8b"
        for name in [live, "build-0a1b2c3d"] {
            try FileManager.default.createDirectory(at: setup.scratch.appendingPathComponent(name), withIntermediateDirectories: true)
        }

        let result = try CLI.run(setup.arguments, environment: setup.environment)
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(result.stderr.contains("buildah"), result.stderr)
        XCTAssertEqual(try entries(setup), ["build-0a1b2c3d", live])
    }
}
