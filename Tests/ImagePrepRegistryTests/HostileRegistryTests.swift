import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// A hostile source registry: the fault proxy in front of a real `docker-registry` answers
/// chosen requests with documents no real registry serves (overflowing sizes, injected media
/// types, sha512 children, forged lines), endless tag pages and trickled bodies; the binary
/// is run through `CLI.run`, which fails the test if a signal ends it. Image-serve
/// destinations are Debian's apache2 serving a directory.
final class HostileRegistryTests: XCTestCase {
    nonisolated(unsafe) static var registry: RegistryServer!
    nonisolated(unsafe) static var proxy: FaultProxy!
    nonisolated(unsafe) static var imageServe: ImageServeServer!
    /// Where `prepare` pushes.
    nonisolated(unsafe) static var destination: RegistryServer!

    override class func setUp() {
        super.setUp()
        do {
            registry = try RegistryServer()
            proxy = try FaultProxy(upstream: registry.address)
            imageServe = try ImageServeServer()
            destination = try RegistryServer()
        } catch {
            fatalError("cannot start docker-registry, the fault proxy and apache2: \(error)")
        }
    }

    override class func tearDown() {
        destination?.stop()
        imageServe?.stop()
        proxy?.stop()
        registry?.stop()
        super.tearDown()
    }

    var registry: RegistryServer { Self.registry }
    var proxy: FaultProxy { Self.proxy }
    var imageServe: ImageServeServer { Self.imageServe }
    var destination: RegistryServer { Self.destination }

    var insecure: [String] {
        ["--insecure-registry", registry.address, "--insecure-registry", proxy.address,
         "--insecure-registry", imageServe.address, "--insecure-registry", destination.address]
    }

    func client() -> RegistryClient {
        RegistryClient(configuration: .init(
            insecureRegistries: [registry.address, proxy.address, imageServe.address, destination.address]))
    }

    /// A real image in the registry behind the proxy, and its manifest's bytes.
    func pushImage(_ repository: String, tag: String, labels: [String: String] = [:]) async throws
        -> (pushed: TestImages.Pushed, bytes: Data)
    {
        let pushed = try await TestImages.push(client(), to: try Reference("\(registry.address)/\(repository):\(tag)"),
                                               layers: [TestImages.layer(seed: "\(repository)-\(tag)", size: 4096)],
                                               labels: labels)
        return (pushed, try JSONEncoder().encode(pushed.manifest))
    }

    func json(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }

    /// `prepare` of `images` (`{{namespace}}/NAME:{{tag}}`) from the proxy's `hostile/`
    /// namespace to the destination registry, with `tag_from_label: rdo_version`.
    func prepare(_ images: [String], tag: String) throws -> CLI.Output {
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let template = work.appendingPathComponent("images.yaml.j2")
        try ("container_images_template:\n" + images.enumerated().map { index, name in
            "- imagename: \"{{namespace}}/\(name):{{tag}}\"\n  params: [Image\(index)]\n"
        }.joined()).write(to: template, atomically: true, encoding: .utf8)
        let env = work.appendingPathComponent("env.yaml")
        try """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: \(destination.address)
                tag_from_label: rdo_version
                set: {namespace: \(proxy.address)/hostile, tag: \(tag)}
            """.write(to: env, atomically: true, encoding: .utf8)
        return try CLI.run(["prepare", "-e", env.path, "--template-file", template.path, "--work-dir", work.path,
                            "--cache-dir", work.appendingPathComponent("cache").path] + insecure)
    }

    // MARK: Item 1: sizes that overflow

    /// A layer descriptor claiming `Int64.max` bytes: upstream's SIGILL (the sum of the blob
    /// sizes trapped) becomes that image's failure, naming it and the size; the run's other
    /// image is copied. A negative size is refused as well.
    func testManifestSizeThatOverflowsFailsTheImageNotTheRun() async throws {
        let (overflow, _) = try await pushImage("hostile/overflow", tag: "real", labels: ["rdo_version": "1.0"])
        for tag in ["current", "1.0"] {
            _ = try await pushImage("hostile/fine", tag: tag, labels: ["rdo_version": "1.0"])
        }
        var manifest = overflow.manifest
        manifest.layers[0].size = Int64.max
        let hostile = String(decoding: try JSONEncoder().encode(manifest), as: UTF8.self)
        var negative = overflow.manifest
        negative.layers[0].size = -1
        try proxy.setRules([
            .respond("^(GET|HEAD) /v2/hostile/overflow/manifests/current$", body: hostile, contentType: MediaType.dockerManifest.rawValue),
            .respond("^(GET|HEAD) /v2/hostile/overflow/manifests/negative$", body: String(decoding: try JSONEncoder().encode(negative), as: UTF8.self),
                     contentType: MediaType.dockerManifest.rawValue),
        ])

        let run = try prepare(["overflow", "fine"], tag: "current")
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("\(proxy.address)/hostile/overflow"), run.stderr)
        XCTAssertTrue(run.stderr.contains("claims 9223372036854775807 bytes, expected 0 to 1099511627776"), run.stderr)
        XCTAssertTrue(run.stderr.contains("summary: 2 image(s): 1 copied, 0 skipped, 0 modified, 1 failed"), run.stderr)
        let copied = try await client().headManifest(try Reference("\(destination.address)/hostile/fine:1.0"))
        XCTAssertNotNil(copied, "the run's other image was copied")

        let inspect = try CLI.run(["image", "inspect", "\(proxy.address)/hostile/overflow:negative"] + insecure)
        XCTAssertEqual(inspect.status, 1, inspect.stdout)
        XCTAssertTrue(inspect.stderr.contains("claims -1 bytes"), inspect.stderr)
        XCTAssertTrue(inspect.stderr.contains("reading manifest \(proxy.address)/hostile/overflow@sha256:"), inspect.stderr)
        XCTAssertEqual(inspect.stderr.split(separator: "\n").count, 1, inspect.stderr)
    }

    // MARK: Item 6: endless tag lists

    /// Endless distinct pages of 1,000 tags: given up at the tag count, naming the registry,
    /// in seconds (the page count alone let 10,000 pages, 10 million tags, through).
    func testEndlessTagPagesStopAtTheTagCount() async throws {
        _ = try await pushImage("hostile/pages", tag: "1")
        try proxy.setRules([.pages("^GET /v2/hostile/pages/tags/list", count: 1000, width: 16)])
        let started = Date()
        let listed = try CLI.run(["image", "list", "--registry", proxy.address] + insecure, timeout: 120)
        XCTAssertFalse(listed.timedOut, "the listing was still being read after 120 s")
        XCTAssertEqual(listed.output.status, 1, listed.output.stdout.suffix(500).description)
        XCTAssertTrue(listed.output.stderr.contains("listing tags of \(proxy.address)/hostile/pages"), listed.output.stderr)
        XCTAssertTrue(listed.output.stderr.contains("more than 100000 names"), listed.output.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 60)
    }

    /// Endless pages of long tags: given up at the listing's byte total, before the tag count.
    func testEndlessTagPagesStopAtTheByteTotal() async throws {
        _ = try await pushImage("hostile/longpages", tag: "1")
        try proxy.setRules([.pages("^GET /v2/hostile/longpages/tags/list", count: 100, width: 10_000)])
        do {
            let tags = try await client().listTags(try Reference("\(proxy.address)/hostile/longpages:1"))
            XCTFail("endless pages returned \(tags.count) tags")
        } catch let error as RegistryError {
            XCTAssertTrue(error.description.contains("the listing is more than 33554432 bytes"), error.description)
            XCTAssertTrue(error.description.contains(proxy.address), error.description)
        }
        let pages = proxy.requests().filter { $0.contains("/hostile/longpages/tags/list") }.count
        XCTAssertLessThanOrEqual(pages, 34, "about 1 MB a page, 32 MiB in all")
    }

    // MARK: Items 8 and 9: manifest lists written to image-serve

    /// The type map written for a manifest list copied into image-serve.
    func typeMap(_ repository: String, tag: String) -> String? {
        try? String(contentsOf: imageServe.root.appendingPathComponent("v2/\(repository)/manifests/\(tag).type-map"),
                    encoding: .utf8)
    }

    /// A list entry whose media type carries a line break and more type-map lines: refused
    /// before it reaches the type map, which httpd would otherwise obey.
    func testManifestListEntryMediaTypeCannotInjectTypeMapLines() async throws {
        let (child, bytes) = try await pushImage("hostile/inject", tag: "real")
        let index = try json([
            "schemaVersion": 2, "mediaType": MediaType.dockerManifestList.rawValue,
            "manifests": [[
                "mediaType": MediaType.dockerManifest.rawValue + "\nURI: ../../../evil\n\nContent-Type: text/html",
                "digest": child.digest.description, "size": bytes.count,
                "platform": ["architecture": "amd64", "os": "linux"],
            ]],
        ])
        try proxy.setRules([.respond("^(GET|HEAD) /v2/hostile/inject/manifests/1$", body: index,
                                     contentType: MediaType.dockerManifestList.rawValue)])
        let copy = try CLI.run(["image", "copy", "--all-platforms", "\(proxy.address)/hostile/inject:1",
                                "\(imageServe.address)/hostile/inject:1", "--image-serve-dir", imageServe.root.path] + insecure)
        XCTAssertEqual(copy.status, 1, copy.stdout)
        XCTAssertTrue(copy.stderr.contains("media type 'application/vnd.docker.distribution.manifest.v2+json\\nURI: ../../../evil"), copy.stderr)
        XCTAssertEqual(copy.stderr.split(separator: "\n").count, 1, copy.stderr)
        let written = typeMap("hostile/inject", tag: "1")
        XCTAssertNil(written, written ?? "")
    }

    /// A list naming its image by a sha512 digest: refused clearly, never a type map naming a
    /// file that was not written (the manifest would be stored under its sha256).
    func testManifestListNamingItsImageBySHA512IsRefused() async throws {
        let (_, bytes) = try await pushImage("hostile/sha512", tag: "real")
        let sha512 = Digest(of: bytes, algorithm: "sha512")
        let index = try json([
            "schemaVersion": 2, "mediaType": MediaType.dockerManifestList.rawValue,
            "manifests": [[
                "mediaType": MediaType.dockerManifest.rawValue, "digest": sha512.description, "size": bytes.count,
                "platform": ["architecture": "amd64", "os": "linux"],
            ]],
        ])
        try proxy.setRules([
            .respond("^(GET|HEAD) /v2/hostile/sha512/manifests/1$", body: index, contentType: MediaType.dockerManifestList.rawValue),
            .respond("^(GET|HEAD) /v2/hostile/sha512/manifests/sha512:", body: String(decoding: bytes, as: UTF8.self),
                     contentType: MediaType.dockerManifest.rawValue),
        ])
        let copy = try CLI.run(["image", "copy", "--all-platforms", "\(proxy.address)/hostile/sha512:1",
                                "\(imageServe.address)/hostile/sha512:1", "--image-serve-dir", imageServe.root.path] + insecure)
        let manifests = imageServe.root.appendingPathComponent("v2/hostile/sha512/manifests")
        for line in (typeMap("hostile/sha512", tag: "1") ?? "").split(separator: "\n") where line.hasPrefix("URI: sha") {
            let file = manifests.appendingPathComponent(String(line.dropFirst("URI: ".count)))
            XCTAssertTrue(FileManager.default.fileExists(atPath: file.path), "the type map names \(line), which is not there")
        }
        XCTAssertEqual(copy.status, 1, copy.stdout)
        XCTAssertTrue(copy.stderr.contains("names its image \(sha512) by a sha512 digest"), copy.stderr)
        XCTAssertTrue(copy.stderr.contains("hostile/sha512"), copy.stderr)
    }

    // MARK: Item 13: registry strings printed

    static let forged = "\ncopied  127.0.0.1:8787/evil:1 (all good)\u{1B}[2J"

    /// A registry's error message with a line break and a terminal escape: printed escaped, on
    /// the error's one line.
    func testRegistryErrorMessageCannotForgeLinesOrSendEscapes() throws {
        let body = try json(["errors": [["code": "MANIFEST_UNKNOWN", "message": "gone" + Self.forged]]])
        try proxy.setRules([.respond("^(GET|HEAD) /v2/hostile/forge/manifests/1$", status: 404, body: body)])
        let inspect = try CLI.run(["image", "inspect", "\(proxy.address)/hostile/forge:1"] + insecure)
        XCTAssertEqual(inspect.status, 1)
        XCTAssertEqual(inspect.stderr.split(separator: "\n").count, 1, inspect.stderr)
        XCTAssertFalse(inspect.stderr.contains("\u{1B}"), inspect.stderr)
        XCTAssertTrue(inspect.stderr.contains(#"MANIFEST_UNKNOWN: gone\ncopied  127.0.0.1:8787/evil:1 (all good)\u{1B}[2J"#),
                      inspect.stderr)
    }

    /// A label value that forges a report line: the image's FAILED line shows it escaped.
    func testLabelValueCannotForgeReportLines() async throws {
        _ = try await pushImage("hostile/label", tag: "current", labels: ["rdo_version": "1.0" + Self.forged])
        let run = try prepare(["label"], tag: "current")
        XCTAssertEqual(run.status, 1, run.stderr)
        let output = run.stdout + run.stderr
        XCTAssertFalse(output.contains("\u{1B}"), output)
        XCTAssertFalse(output.split(separator: "\n").contains { $0.hasPrefix("copied  127.0.0.1:8787/evil") }, output)
        XCTAssertTrue(run.stderr.contains(#"'1.0\ncopied  127.0.0.1:8787/evil:1 (all good)\u{1B}[2J'"#), run.stderr)
    }

    // MARK: Item 10: trickled answers

    /// A manifest sent at 2 bytes a second never stalls, so only the request's deadline
    /// (the stall timeout plus its size at the minimum average rate) ends it.
    func testTrickledManifestEndsAtTheRequestDeadline() async throws {
        _ = try await pushImage("hostile/trickle", tag: "1")
        try proxy.setRules([.init(match: "^GET /v2/hostile/trickle/manifests/1$", action: .trickle, times: -1, bytes: 2)])
        let started = Date()
        let inspect = try CLI.run(["image", "inspect", "\(proxy.address)/hostile/trickle:1", "--stall-timeout", "1"] + insecure,
                                  timeout: 150)
        XCTAssertFalse(inspect.timedOut, "a 2 B/s manifest was still being read after 150 s")
        XCTAssertEqual(inspect.output.status, 1, inspect.output.stdout)
        XCTAssertTrue(inspect.output.stderr.contains("hostile/trickle:1"), inspect.output.stderr)
        XCTAssertTrue(inspect.output.stderr.contains("the request's deadline"), inspect.output.stderr)
        XCTAssertTrue(inspect.output.stderr.contains("bytes and 262144 of overhead at 32768 bytes/s, the slowest average allowed"), inspect.output.stderr)
        // Five attempts of about 10 s (1 s to connect, 1 s of stall, 256 KiB of overhead at
        // 32 KiB/s) and their backoff, instead of about 250 s for each.
        XCTAssertLessThan(Date().timeIntervalSince(started), 100)
    }
}
