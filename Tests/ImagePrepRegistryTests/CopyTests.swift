import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

extension PlainRegistryTests {
    func testLabelsReadFromTheImageConfig() async throws {
        let client = makeClient()
        let reference = try ref(source, "tripleo/nova-api:current-tripleo")
        let labels = ["rdo_version": "35414701c176_43527485", "version": "17.1", "release": "5"]
        try await TestImages.push(client, to: reference, layers: [TestImages.layer(seed: "nova", size: 1024)], labels: labels)
        let config = try await client.fetchImageConfig(reference)
        XCTAssertEqual(config.labels, labels)
    }

    func testCopyThenRerunSkipsWithOneRequestPerRegistry() async throws {
        let client = makeClient()
        let src = try ref(source, "copy/glance:1")
        let dst = try ref(destination, "mirror/glance:1")
        let layers = [TestImages.layer(seed: "glance-1", size: 200 * 1024), TestImages.layer(seed: "glance-2")]
        let pushed = try await TestImages.push(client, to: src, layers: layers, labels: ["rdo_version": "1"])

        let copier = ImageCopier(client: client)
        let first = try await copier.copy(from: src, to: dst)
        XCTAssertEqual(first.outcome, .copied)
        XCTAssertEqual(first.digest, pushed.digest)
        XCTAssertEqual(first.blobsCopied, 3)
        XCTAssertEqual(first.bytesCopied, Int64(layers.map(\.count).reduce(0, +)) + pushed.manifest.config.size)
        let copied = try await client.fetchManifest(dst)
        XCTAssertEqual(copied.digest, pushed.digest, "the manifest must be put byte for byte")
        let wouldCopy = try await copier.copiedDigest(from: src)
        XCTAssertEqual(wouldCopy, copied.digest)

        let sourceBefore = source.requests().count
        let destinationBefore = destination.requests().count
        let second = try await ImageCopier(client: client).copy(from: src, to: dst)
        XCTAssertEqual(second.outcome, .skipped)
        XCTAssertEqual(second.digest, pushed.digest)
        let sourceRequests = try await source.requests(after: sourceBefore)
        let destinationRequests = try await destination.requests(after: destinationBefore)
        XCTAssertEqual(sourceRequests, ["GET /v2/copy/glance/manifests/1"])
        XCTAssertEqual(destinationRequests, ["HEAD /v2/mirror/glance/manifests/1"])
    }

    func testCrossRepositoryMountAndConcurrentSharedBlobs() async throws {
        let client = makeClient()
        let base = TestImages.layer(seed: "shared-base", size: 512 * 1024)
        var sources: [Reference] = []
        for name in ["api", "conductor", "scheduler"] {
            let src = try ref(source, "shared/\(name):1")
            try await TestImages.push(client, to: src, layers: [base, TestImages.layer(seed: name, size: 4096)],
                                      labels: ["name": name])
            sources.append(src)
        }
        let copier = ImageCopier(client: client)
        let before = destination.requests().count
        // Two images copied at the same time share the base layer: it must cross once.
        let reports = try await withThrowingTaskGroup(of: ImageCopyReport.self) { group in
            for src in sources.prefix(2) {
                let dst = try ref(destination, "shared-mirror/\(src.repository.split(separator: "/").last!):1")
                group.addTask { try await copier.copy(from: src, to: dst) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let baseCopies = try await destination.requests(after: before)
            .filter { $0.hasPrefix("PATCH") || $0.hasPrefix("PUT") && $0.contains("blobs/uploads") }
        XCTAssertEqual(reports.map(\.blobsCopied).reduce(0, +), 5, "\(reports)")
        XCTAssertEqual(reports.map(\.blobsMounted).reduce(0, +), 1, "\(reports)")
        XCTAssertLessThan(reports.map(\.bytesCopied).reduce(0, +), Int64(2 * base.count))
        // Small blobs go in one PUT with the bytes: five uploads, the base layer's once.
        XCTAssertEqual(baseCopies.filter { $0.hasPrefix("PUT") }.count, 5, "\(baseCopies)")
        XCTAssertEqual(baseCopies.filter { $0.hasPrefix("PATCH") }.count, 0, "\(baseCopies)")

        // A later image mounts the base layer from a repository that already holds it.
        let third = try await copier.copy(from: sources[2], to: try ref(destination, "shared-mirror/scheduler:1"))
        XCTAssertEqual(third.blobsMounted, 1)
        XCTAssertEqual(third.blobsCopied, 2)
        let mounts = destination.requests().filter { $0.contains("mount=") }
        XCTAssertFalse(mounts.isEmpty)

        // Another client without the in-memory record still finds the blobs there (a mount
        // request from the repository itself answers 201).
        let fresh = ImageCopier(client: makeClient())
        let again = try await fresh.copy(from: sources[2], to: try ref(destination, "shared-mirror/scheduler:2"))
        XCTAssertEqual(again.outcome, .copied)
        XCTAssertEqual(again.blobsPresent, 3)
        XCTAssertEqual(again.bytesCopied, 0)
    }

    func testManifestListCopy() async throws {
        let client = makeClient()
        let repository = try ref(source, "multi/horizon:1")
        var entries: [Descriptor] = []
        for architecture in ["amd64", "arm64"] {
            let platformRef = try ref(source, "multi/horizon:\(architecture)")
            let pushed = try await TestImages.push(
                client, to: platformRef, layers: [TestImages.layer(seed: "horizon-\(architecture)", size: 8192)],
                labels: ["arch": architecture], architecture: architecture)
            let raw = try await client.fetchManifest(platformRef)
            XCTAssertEqual(raw.digest, pushed.digest)
            entries.append(Descriptor(mediaType: raw.mediaType, digest: raw.digest, size: Int64(raw.bytes.count),
                                      platform: Platform(os: "linux", architecture: architecture)))
        }
        let listBytes = try JSONEncoder().encode(Index(mediaType: .dockerManifestList, manifests: entries))
        let listDigest = try await client.pushManifest(listBytes, mediaType: .dockerManifestList, to: repository)

        let arm = try await client.fetchImageConfig(repository, platform: Platform(os: "linux", architecture: "arm64"))
        XCTAssertEqual(arm.labels["arch"], "arm64")
        let defaultConfig = try await client.fetchImageConfig(repository)
        XCTAssertEqual(defaultConfig.labels["arch"], "amd64")

        let all = try await ImageCopier(client: client, platforms: .all)
            .copy(from: repository, to: try ref(destination, "multi-mirror/horizon:1"))
        XCTAssertEqual(all.digest, listDigest)
        XCTAssertEqual(all.manifestsPushed, 3)
        XCTAssertEqual(all.blobsCopied, 4)
        let copiedList = try await client.fetchManifest(try ref(destination, "multi-mirror/horizon:1"))
        XCTAssertEqual(copiedList.digest, listDigest)
        XCTAssertEqual(copiedList.mediaType, .dockerManifestList)
        for entry in entries {
            let child = try await client.headManifest(try ref(destination, "multi-mirror/horizon").withDigest(entry.digest))
            XCTAssertEqual(child?.digest, entry.digest)
        }
        let rerun = try await ImageCopier(client: client, platforms: .all)
            .copy(from: repository, to: try ref(destination, "multi-mirror/horizon:1"))
        XCTAssertEqual(rerun.outcome, .skipped)

        let single = try await ImageCopier(client: client)
            .copy(from: repository, to: try ref(destination, "single-mirror/horizon:1"))
        XCTAssertEqual(single.digest, entries[0].digest)
        // What a copy tags, read without copying (prepare --diff compares it): the list with
        // every platform, else the platform's image.
        let listCopied = try await ImageCopier(client: client, platforms: .all).copiedDigest(from: repository)
        XCTAssertEqual(listCopied, listDigest)
        let singleCopied = try await ImageCopier(client: client).copiedDigest(from: repository)
        XCTAssertEqual(singleCopied, entries[0].digest)
        let armCopied = try await ImageCopier(client: client, platforms: .only(Platform(os: "linux", architecture: "arm64")))
            .copiedDigest(from: repository)
        XCTAssertEqual(armCopied, entries[1].digest)
        XCTAssertEqual(single.mediaType, .dockerManifest)
        do {
            _ = try await ImageCopier(client: client, platforms: .only(Platform(os: "linux", architecture: "s390x")))
                .copy(from: repository, to: try ref(destination, "single-mirror/horizon:2"))
            XCTFail("expected platform not found")
        } catch RegistryError.platformNotFound(_, let wanted, let available) {
            XCTAssertEqual(wanted.architecture, "s390x")
            XCTAssertEqual(available.map(\.architecture), ["amd64", "arm64"])
        }
    }

    func testCorruptedBlobIsDetectedAndNothingTagged() async throws {
        let client = makeClient()
        let src = try ref(source, "corrupt/cinder:1")
        let dst = try ref(destination, "corrupt-mirror/cinder:1")
        let pushed = try await TestImages.push(client, to: src, layers: [TestImages.layer(seed: "cinder", size: 100 * 1024)])
        let layer = pushed.manifest.layers[0]
        try source.corruptBlob(layer.digest.description)

        do {
            _ = try await ImageCopier(client: client).copy(from: src, to: dst)
            XCTFail("expected a digest mismatch")
        } catch let error as RegistryError {
            guard case .digestMismatch(let context, let expected, _) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(expected, layer.digest)
            XCTAssertEqual(context.registry, source.address)
            XCTAssertTrue(error.description.contains(layer.digest.description), error.description)
        }
        let tagged = try await client.headManifest(dst)
        XCTAssertNil(tagged, "nothing may be tagged after a failed copy")
        let blob = try await client.headBlob(dst, digest: layer.digest)
        XCTAssertNil(blob, "the corrupted blob must not be committed")
    }
}
