import Foundation
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest
import ImagePrepOCI

/// A push destination killed with SIGKILL in the middle of a copy and restarted on the same
/// storage and port (real `docker-registry` processes; the fault proxy in front of the source
/// holds one layer half sent, so the kill lands while the destination has part of it): the
/// run fails cleanly, no tag at the destination names an incomplete image, and a re-run
/// completes the job with the source's digests.
final class KilledDestinationTests: XCTestCase {
    static let names = ["app-a", "app-b", "app-c"]
    nonisolated(unsafe) static var source: RegistryServer!
    nonisolated(unsafe) static var proxy: FaultProxy!
    nonisolated(unsafe) static var destination: RegistryServer!
    nonisolated(unsafe) static var work: URL!
    /// Each image's manifest digest and blobs at the source.
    nonisolated(unsafe) static var pushed: [String: (digest: Digest, layers: [Digest])] = [:]

    override class func setUp() {
        super.setUp()
        do {
            source = try RegistryServer()
            proxy = try FaultProxy(upstream: source.address)
            destination = try RegistryServer()
            work = try CLI.temporaryDirectory()
            let client = RegistryClient(configuration: .init(insecureRegistries: [source.address]))
            pushed = try runBlocking {
                var pushed: [String: (digest: Digest, layers: [Digest])] = [:]
                for name in names {
                    let reference = try Reference("\(source.address)/killed/\(name):1")
                    var layers: [Descriptor] = []
                    for index in 0..<2 {
                        layers.append(try await client.pushBlob(Self.bytes(seed: "\(name)-\(index)", count: 3 << 20), to: reference))
                    }
                    let config = try JSONEncoder().encode(ImageConfig(architecture: "amd64", os: "linux", config: ContainerConfig()))
                    let configDescriptor = try await client.pushBlob(config, mediaType: .dockerConfig, to: reference)
                    let manifest = try JSONEncoder().encode(Manifest(config: configDescriptor, layers: layers))
                    let digest = try await client.pushManifest(manifest, mediaType: .dockerManifest, to: reference)
                    pushed[name] = (digest, layers.map(\.digest))
                }
                return pushed
            }
        } catch {
            fatalError("cannot start the registries: \(error)")
        }
    }

    override class func tearDown() {
        proxy?.stop()
        source?.stop()
        destination?.stop()
        if let work { try? FileManager.default.removeItem(at: work) }
        super.tearDown()
    }

    /// Incompressible bytes, different for each seed.
    static func bytes(seed: String, count: Int) -> Data {
        var state = UInt64(truncatingIfNeeded: seed.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) })
        var words = [UInt64](repeating: 0, count: count / 8)
        for index in words.indices {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            words[index] = state ^ (state >> 29)
        }
        return words.withUnsafeBytes { Data($0) }
    }

    /// Bytes of unfinished uploads in the destination's storage.
    func partialUploadBytes() -> Int {
        let root = Self.destination.storageDirectory.appendingPathComponent("docker/registry/v2/repositories")
        guard let walk = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.fileSizeKey]) else { return 0 }
        var total = 0
        for case let url as URL in walk where url.path.contains("/_uploads/") && url.lastPathComponent == "data" {
            total += (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0
        }
        return total
    }

    func prepareArguments() throws -> [String] {
        let template = Self.work.appendingPathComponent("t.yaml.j2")
        try ("container_images_template:\n" + Self.names.map { "- imagename: \"{{namespace}}/\($0):{{tag}}\"\n  params: [\($0.replacingOccurrences(of: "-", with: ""))Image]\n" }.joined())
            .write(to: template, atomically: true, encoding: .utf8)
        let env = Self.work.appendingPathComponent("env.yaml")
        try """
            parameter_defaults:
              DockerInsecureRegistryAddress: [\(Self.proxy.address), \(Self.destination.address)]
              ContainerImagePrepare:
              - push_destination: \(Self.destination.address)
                set: {namespace: \(Self.proxy.address)/killed, tag: '1'}
            """.write(to: env, atomically: true, encoding: .utf8)
        return ["prepare", "-e", env.path, "--template-file", template.path, "--no-cache", "--stall-timeout", "3"]
    }

    func testADestinationKilledMidCopyFailsCleanlyAndAReRunCompletes() async throws {
        let (source, destination, proxy) = (Self.source!, Self.destination!, Self.proxy!)
        let stalled = try XCTUnwrap(Self.pushed["app-b"]?.layers.last)
        try proxy.setRules([.init(match: "^GET /v2/killed/app-b/blobs/\(stalled)", action: .stall, times: 1)])
        let arguments = try prepareArguments()

        // The run, in the background; the destination is killed once the other two images are
        // there and it holds part of app-b's layer.
        let started = Date()
        let first = Task.detached { try CLI.run(arguments, timeout: 180) }
        var waited = 0
        let others = ["app-a", "app-c"].map { "PUT /v2/killed/\($0)/manifests/1" }
        while partialUploadBytes() == 0 || !proxy.requests().contains(where: { $0.hasSuffix(" stall") })
            || !others.allSatisfy(destination.requests().contains)
        {
            try await Task.sleep(for: .milliseconds(50))
            waited += 1
            if waited > 600 { break }
        }
        let partial = partialUploadBytes()
        XCTAssertGreaterThan(partial, 0, "the destination holds part of an upload when it is killed")
        destination.kill()
        let failed = try await first.value
        XCTAssertFalse(failed.timedOut, "the run hung: \(failed.output.stderr)")
        XCTAssertNil(failed.signal)
        XCTAssertEqual(failed.output.status, 1, failed.output.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 120)
        XCTAssertTrue(failed.output.stderr.contains("failed; no output file was written"), failed.output.stderr)
        XCTAssertTrue(failed.output.stderr.contains("killed/app-b:1: "), failed.output.stderr)
        XCTAssertTrue(failed.output.stderr.contains("registry \(destination.address)"), failed.output.stderr)
        XCTAssertEqual(failed.output.stdout, "", "no env file printed for a failed run")

        // Restarted on the same storage and port: every tag names a whole image.
        try destination.restart()
        let client = RegistryClient(configuration: .init(insecureRegistries: [destination.address, source.address]))
        var tagged = 0
        for repository in try await client.listRepositories(registry: destination.address) {
            let tags = (try? await client.listTags(try Reference("\(destination.address)/\(repository):x"))) ?? []
            for tag in tags {
                let reference = try Reference("\(destination.address)/\(repository):\(tag)")
                let image = try await client.resolveImage(reference)
                for blob in [image.manifest.config] + image.manifest.layers {
                    let size = try await client.headBlob(reference, digest: blob.digest)
                    XCTAssertEqual(size, blob.size, "\(reference) names \(blob.digest), which the destination lacks")
                }
                tagged += 1
            }
        }
        let cut = try await client.headManifest(try Reference("\(destination.address)/killed/app-b:1"))
        XCTAssertNil(cut, "the image whose copy was cut has no tag")
        XCTAssertEqual(tagged, 2, "app-a and app-c were complete before the kill")
        print("killed destination: \(partial) bytes of an upload held at the kill, \(tagged) complete image(s) tagged before it; the run said: \(failed.output.stderr)")

        // A re-run completes the job: the source's digests at the destination.
        let second = try CLI.run(arguments, timeout: 180)
        XCTAssertEqual(second.output.status, 0, second.output.stderr)
        for name in Self.names {
            let copied = try await client.headManifest(try Reference("\(destination.address)/killed/\(name):1"))
            XCTAssertEqual(copied?.digest, Self.pushed[name]?.digest, name)
        }
    }
}
