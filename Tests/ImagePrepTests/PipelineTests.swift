import Foundation
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest
import ImagePrepOCI

/// An image is copied as soon as its tag is discovered, not after every discovery: with the
/// discovery of one image stalled by the fault proxy, another image's copy completes at the
/// destination before that discovery does. The report keeps the plan's order.
final class PipelineTests: XCTestCase {
    nonisolated(unsafe) static var source: RegistryServer?
    nonisolated(unsafe) static var destination: RegistryServer?
    nonisolated(unsafe) static var proxy: FaultProxy?
    nonisolated(unsafe) static var setupError: (any Error)?

    override class func setUp() {
        do {
            let source = try RegistryServer()
            Self.source = source
            destination = try RegistryServer()
            proxy = try FaultProxy(upstream: source.address)
        } catch {
            setupError = error
        }
    }

    override class func tearDown() {
        proxy?.stop()
        source?.stop()
        destination?.stop()
    }

    /// A one-layer image labelled `rdo_version: 1.0`, tagged `current-tripleo` and `1.0`.
    private func push(_ client: RegistryClient, _ reference: Reference) async throws {
        let layer = try await client.pushBlob(Data("\(reference)\n".utf8) + Data(repeating: 1, count: 8192), mediaType: .dockerLayer, to: reference)
        let config: [String: Any] = [
            "architecture": "amd64", "os": "linux", "config": ["Labels": ["rdo_version": "1.0"]],
            "rootfs": ["type": "layers", "diff_ids": [layer.digest.description]],
        ]
        let configBlob = try await client.pushBlob(
            try JSONSerialization.data(withJSONObject: config, options: .sortedKeys), mediaType: .dockerConfig, to: reference)
        let manifest = try JSONEncoder().encode(Manifest(mediaType: .dockerManifest, config: configBlob, layers: [layer]))
        for tag in ["current-tripleo", "1.0"] {
            try await client.pushManifest(manifest, mediaType: .dockerManifest, to: reference.withTag(tag))
        }
    }

    func testAnImageIsCopiedWhileAnotherIsStillBeingDiscovered() async throws {
        if let error = Self.setupError { throw error }
        let source = try XCTUnwrap(Self.source)
        let destination = try XCTUnwrap(Self.destination)
        let proxy = try XCTUnwrap(Self.proxy)
        let client = RegistryClient(configuration: .init(insecureRegistries: [source.address]))
        for name in ["slow", "fast"] {
            try await push(client, try Reference("\(source.address)/pipe/\(name):current-tripleo"))
        }
        // The first look at slow's tag stalls until the client gives up on it (--stall-timeout)
        // and asks again.
        let slowTag = "GET /v2/pipe/slow/manifests/current-tripleo"
        try proxy.setRules([.init(match: "^\(slowTag)", action: .stall, times: 1)])

        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let template = work.appendingPathComponent("t.yaml.j2")
        try """
            container_images_template:
            - imagename: "{{namespace}}/slow:{{tag}}"
              params: [SlowImage]
            - imagename: "{{namespace}}/fast:{{tag}}"
              params: [FastImage]
            """.write(to: template, atomically: true, encoding: .utf8)
        let env = work.appendingPathComponent("env.yaml")
        try """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: \(destination.address)
                tag_from_label: rdo_version
                set: {namespace: \(proxy.address)/pipe, tag: current-tripleo}
            """.write(to: env, atomically: true, encoding: .utf8)
        let output = work.appendingPathComponent("images-env.yaml")
        let arguments = [
            "prepare", "-e", env.path, "--template-file", template.path, "--insecure-registry", proxy.address, "--insecure-registry", destination.address,
            "--output-env-file", output.path, "--cache-dir", work.appendingPathComponent("cache").path,
            "--stall-timeout", "4", "--progress", "plain",
        ]
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var run: Result<CLI.Output, any Error>?
        DispatchQueue.global().async {
            run = Result { try CLI.run(arguments) }
            finished.signal()
        }

        // When fast's manifest is at the destination, slow's tag has not been read yet.
        let fastPut = "PUT /v2/pipe/fast/manifests/1.0"
        let deadline = Date().addingTimeInterval(30)
        var slowAnsweredBeforeFastCopied: Bool?
        while Date() < deadline {
            if destination.requests().contains(fastPut) {
                slowAnsweredBeforeFastCopied = proxy.requests().contains { $0.hasPrefix(slowTag + " 200 forwarded") }
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        finished.wait()
        let result = try XCTUnwrap(run).get()
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(slowAnsweredBeforeFastCopied, false, "fast was copied only after slow's discovery: \(proxy.requests())")
        XCTAssertTrue(proxy.requests().contains(slowTag + " 200 stall"), "\(proxy.requests())")
        XCTAssertTrue(proxy.requests().contains(slowTag + " 200 forwarded"), "\(proxy.requests())")

        // Both copied, the report in the plan's order, the env file written.
        let slowLine = try XCTUnwrap(result.stderr.range(of: "copied  \(destination.address)/pipe/slow:1.0 ("), result.stderr)
        let fastLine = try XCTUnwrap(result.stderr.range(of: "copied  \(destination.address)/pipe/fast:1.0 ("), result.stderr)
        XCTAssertLessThan(slowLine.lowerBound, fastLine.lowerBound)
        XCTAssertTrue(result.stderr.contains("summary: 2 image(s): 2 copied, 0 skipped, 0 modified, 0 failed; "), result.stderr)
        let written = try String(contentsOf: output, encoding: .utf8)
        XCTAssertTrue(written.contains("FastImage: \(destination.address)/pipe/fast:1.0\n"), written)
        XCTAssertTrue(written.contains("SlowImage: \(destination.address)/pipe/slow:1.0\n"), written)
    }
}
