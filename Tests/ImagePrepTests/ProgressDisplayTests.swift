import Foundation
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest
import ImagePrepOCI

/// `prepare --progress`: the built binary against real registries. Plain mode has no control
/// characters, a status line with `N/M images` and a summary whose numbers are the run's;
/// tty mode (under a pseudo-terminal from `script`) redraws in place and reaches `M/M`;
/// `--json` carries the same summary as data.
final class ProgressDisplayTests: XCTestCase {
    nonisolated(unsafe) static var source: RegistryServer?
    nonisolated(unsafe) static var setupError: (any Error)?

    override class func setUp() {
        do {
            source = try RegistryServer()
        } catch {
            setupError = error
        }
    }

    override class func tearDown() {
        source?.stop()
    }

    static let names = ["alpha", "beta", "gamma"]

    /// Three images of two layers each (a shared base and their own), labelled
    /// `rdo_version: 1.0`; returns the bytes of their distinct blobs.
    static func seed(_ registry: RegistryServer) async throws -> Int64 {
        let client = RegistryClient(configuration: .init(insecureRegistries: [registry.address]))
        var sizes: [Digest: Int64] = [:]
        for (index, name) in names.enumerated() {
            let reference = try Reference("\(registry.address)/progress/\(name):current-tripleo")
            let base = try await client.pushBlob(Data(repeating: 7, count: 64 * 1024), mediaType: .dockerLayer, to: reference)
            let own = try await client.pushBlob(
                Data("\(name)\n".utf8) + Data(repeating: UInt8(index), count: (index + 1) * 300 * 1024), mediaType: .dockerLayer,
                to: reference)
            let config: [String: Any] = [
                "architecture": "amd64", "os": "linux", "config": ["Labels": ["rdo_version": "1.0"]],
                "rootfs": ["type": "layers", "diff_ids": [base.digest.description, own.digest.description]],
            ]
            let configBlob = try await client.pushBlob(
                try JSONSerialization.data(withJSONObject: config, options: .sortedKeys), mediaType: .dockerConfig, to: reference)
            let manifest = try JSONEncoder().encode(Manifest(mediaType: .dockerManifest, config: configBlob, layers: [base, own]))
            for tag in ["current-tripleo", "1.0"] {
                try await client.pushManifest(manifest, mediaType: .dockerManifest, to: reference.withTag(tag))
            }
            for blob in [base, own, configBlob] { sizes[blob.digest] = blob.size }
        }
        return sizes.values.reduce(0, +)
    }

    nonisolated(unsafe) static var seededBytes: Int64?

    func fixture() async throws -> (source: RegistryServer, bytes: Int64) {
        if let error = Self.setupError { throw error }
        let source = try XCTUnwrap(Self.source)
        if let bytes = Self.seededBytes { return (source, bytes) }
        let bytes = try await Self.seed(source)
        Self.seededBytes = bytes
        return (source, bytes)
    }

    /// An environment copying the three images to `destination`.
    func environment(in work: URL, source: String, destination: String) throws -> [String] {
        let template = work.appendingPathComponent("t.yaml.j2")
        try ("container_images_template:\n" + Self.names.map { "- imagename: \"{{namespace}}/\($0):{{tag}}\"\n  params: [\($0.capitalized)Image]\n" }.joined())
            .write(to: template, atomically: true, encoding: .utf8)
        let env = work.appendingPathComponent("env.yaml")
        try """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: \(destination)
                tag_from_label: rdo_version
                set: {namespace: \(source)/progress, tag: current-tripleo}
            """.write(to: env, atomically: true, encoding: .utf8)
        return [
            "prepare", "-e", env.path, "--template-file", template.path, "--insecure-registry", source, "--insecure-registry", destination,
            "--output-env-file", work.appendingPathComponent("images-env.yaml").path,
            "--cache-dir", work.appendingPathComponent("cache").path,
        ]
    }

    func testPlainProgressAndJSONSummaryMatchTheRun() async throws {
        let (source, bytes) = try await fixture()
        let destination = try RegistryServer()
        defer { destination.stop() }
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let arguments = try environment(in: work, source: source.address, destination: destination.address)

        let run = try CLI.run(arguments + ["--progress", "plain", "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertFalse(run.stderr.contains("\u{1B}"), "plain progress has no control characters: \(run.stderr)")
        let lines = run.stderr.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("progress: 0/3 images, ") == true, run.stderr)
        let summaryLine = try XCTUnwrap(lines.last { $0.hasPrefix("summary: ") }, run.stderr)
        XCTAssertTrue(
            summaryLine.hasPrefix("summary: 3 image(s): 3 copied, 0 skipped, 0 modified, 0 failed; \(Self.text(bytes)) transferred, "),
            summaryLine)
        XCTAssertTrue(summaryLine.hasSuffix(" MiB/s"), summaryLine)

        // --json: the same summary as data, the bytes exactly those of the distinct blobs.
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let summary = try XCTUnwrap(json["summary"] as? [String: Any], run.stdout)
        XCTAssertEqual(summary["images"] as? Int, 3)
        XCTAssertEqual(summary["copied"] as? Int, 3)
        XCTAssertEqual(summary["failed"] as? Int, 0)
        XCTAssertEqual((summary["bytes_transferred"] as? NSNumber)?.int64Value, bytes)
        // The shared base was sent once; the two other images mounted it.
        XCTAssertEqual((summary["bytes_mounted_or_present"] as? NSNumber)?.int64Value, 2 * 64 * 1024)
        XCTAssertNotNil(summary["seconds"] as? Double)
        XCTAssertEqual((json["report"] as? [String])?.last, "3 image(s) copied or already present, 0 modified, 0 failed.")

        // A re-run skips every image and moves nothing.
        let again = try CLI.run(arguments + ["--progress", "plain"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("summary: 3 image(s): 0 copied, 3 skipped, 0 modified, 0 failed; 0 B transferred, "), again.stderr)
        XCTAssertFalse(again.stderr.contains("\u{1B}"), again.stderr)
        XCTAssertTrue(again.stderr.hasSuffix(" MiB/s\n"), "the summary is the last line: \(again.stderr)")
    }

    func testTTYProgressRedrawsInPlaceAndReachesAllImages() async throws {
        let (source, _) = try await fixture()
        let destination = try RegistryServer()
        defer { destination.stop() }
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let arguments = try environment(in: work, source: source.address, destination: destination.address)

        // `script` gives the run a pseudo-terminal: --progress auto picks tty.
        let run = try CLI.runProcess(URL(fileURLWithPath: "/usr/bin/script"), ["-qfec", CLI.shellCommand(arguments), "/dev/null"])
        XCTAssertLessThan(run.status, 128, "imageprep died with a signal on a terminal: \(run.stdout)")
        XCTAssertEqual(run.status, 0, run.stdout)
        let output = run.stdout
        XCTAssertTrue(output.contains("\u{1B}[J"), "the status is cleared and redrawn: \(output)")
        XCTAssertTrue(output.contains("3/3 images"), output)
        XCTAssertTrue(output.contains("\u{1B}[3A") || output.contains("\u{1B}[2A") || output.contains("\u{1B}[1A"), output)
        XCTAssertTrue(output.contains("summary: 3 image(s): 3 copied, 0 skipped, 0 modified, 0 failed; "), output)
        // Each image's line appears as it finishes, above the status.
        for name in Self.names {
            XCTAssertTrue(output.contains("copied  \(destination.address)/progress/\(name):1.0 ("), output)
        }
    }

    func testAFailedImageIsCountedAndNothingIsWritten() async throws {
        let (source, _) = try await fixture()
        let destination = try RegistryServer()
        defer { destination.stop() }
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        var arguments = try environment(in: work, source: source.address, destination: destination.address)
        // A fourth image the source does not have.
        let template = work.appendingPathComponent("t.yaml.j2")
        try (try String(contentsOf: template, encoding: .utf8) + "- imagename: \"{{namespace}}/missing:{{tag}}\"\n  params: [MissingImage]\n")
            .write(to: template, atomically: true, encoding: .utf8)
        arguments += ["--progress", "plain"]

        let run = try CLI.run(arguments)
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.hasPrefix("progress: 0/4 images, "), run.stderr)
        // The summary counts the failed image, before the error that names it.
        let summary = try XCTUnwrap(run.stderr.range(of: "summary: 4 image(s): 3 copied, 0 skipped, 0 modified, 1 failed; "), run.stderr)
        let error = try XCTUnwrap(run.stderr.range(of: "Error: 1 image(s) failed; no output file was written:"), run.stderr)
        XCTAssertLessThan(summary.lowerBound, error.lowerBound)
        XCTAssertTrue(run.stderr.contains("/progress/missing:current-tripleo: "), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("images-env.yaml").path))
    }

    /// `bytes` as the summary writes it.
    static func text(_ bytes: Int64) -> String {
        bytes < 1024 ? "\(bytes) B" : String(format: "%.1f %@", Double(bytes) / 1024 / (bytes < 1_048_576 ? 1 : 1024), bytes < 1_048_576 ? "KiB" : "MiB")
    }
}
