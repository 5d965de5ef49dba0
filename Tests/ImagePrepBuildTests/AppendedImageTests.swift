import Foundation
import ImagePrepArchive
import ImagePrepOCI
import XCTest

@testable import ImagePrepBuild

/// What the layer engine makes of a base image: creation times, and the config and manifest
/// it writes (the base's other fields kept).
final class AppendedImageTests: XCTestCase {
    func testCreationTimesParseWithoutAFormatter() throws {
        XCTAssertEqual(RFC3339.epochSeconds("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(RFC3339.epochSeconds("2019-05-01T10:20:30.123456789Z"), 1_556_706_030)
        XCTAssertEqual(RFC3339.epochSeconds("2000-02-29T00:00:00Z"), 951_782_400)
        XCTAssertEqual(RFC3339.epochSeconds("2026-11-25T16:19:20.4632589+02:00"), 1_795_616_360)
        XCTAssertEqual(RFC3339.epochSeconds("1969-12-31T23:59:59Z"), -1)
        XCTAssertNil(RFC3339.epochSeconds("yesterday"))
        XCTAssertEqual(AppendedImage.created(in: try ImageDocument(Data("{}".utf8), what: "config")).seconds, 0)
    }

    func testConfigAndManifestGainTheLayerAndKeepTheRest() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-appended-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let config = try ImageDocument(
            Data(#"{"created":"2019-05-01T10:20:30Z","history":[{"created_by":"base"}],"rootfs":{"diff_ids":["sha256:aa"],"type":"layers"},"unknown":{"kept":true}}"#.utf8),
            what: "config")
        let baseLayer = #"{"annotations":{"a":"b"},"digest":"sha256:\#(String(repeating: "c", count: 64))","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":3}"#
        let manifest = Data(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\#(String(repeating: "d", count: 64))","size":9},"layers":[\#(baseLayer)],"annotations":{"x":"y"}}"#.utf8)
        let file = work.appendingPathComponent("payload")
        try Data("hello\n".utf8).write(to: file)
        let entries = [ArchiveWriter.Entry(path: "etc/hello", kind: .file(source: file, size: 6), mode: 0o644, mtime: 5)]

        let image = try AppendedImage.make(
            base: manifest, mediaType: .ociManifest, configMediaType: .ociConfig, config: config, entries: entries,
            layerFile: work.appendingPathComponent("layer.tar.gz"), createdBy: "imageprep", comment: "test")
        let layer = try XCTUnwrap(image.layer)
        XCTAssertEqual(layer.descriptor.mediaType, .ociLayer)
        XCTAssertEqual(Digest(of: try Data(contentsOf: layer.file)), layer.descriptor.digest)
        let extended = try XCTUnwrap(JSONSerialization.jsonObject(with: image.config) as? [String: Any])
        XCTAssertEqual((extended["rootfs"] as? [String: Any])?["diff_ids"] as? [String], ["sha256:aa", layer.diffID.description])
        XCTAssertEqual((extended["history"] as? [[String: Any]])?.last?["created_by"] as? String, "imageprep")
        XCTAssertEqual((extended["history"] as? [[String: Any]])?.last?["created"] as? String, "2019-05-01T10:20:30Z")
        XCTAssertEqual((extended["unknown"] as? [String: Bool])?["kept"], true)
        XCTAssertEqual(image.configDescriptor.digest, Digest(of: image.config))

        let pushed = try JSONDecoder().decode(Manifest.self, from: image.manifest)
        XCTAssertEqual(pushed.config, image.configDescriptor)
        XCTAssertEqual(pushed.layers.map(\.digest).last, layer.descriptor.digest)
        XCTAssertEqual(pushed.layers.first?.annotations, ["a": "b"], "the base layer's own fields are kept")
        XCTAssertEqual(pushed.annotations, ["x": "y"])

        let configOnly = try AppendedImage.make(
            base: manifest, mediaType: .ociManifest, configMediaType: .ociConfig, config: config, entries: [],
            layerFile: work.appendingPathComponent("none.tar.gz"), createdBy: "imageprep", comment: "test")
        XCTAssertNil(configOnly.layer)
        let unchanged = try XCTUnwrap(JSONSerialization.jsonObject(with: configOnly.config) as? [String: Any])
        XCTAssertEqual((unchanged["rootfs"] as? [String: Any])?["diff_ids"] as? [String], ["sha256:aa"])
        XCTAssertEqual((unchanged["history"] as? [[String: Any]])?.last?["empty_layer"] as? Bool, true)
        XCTAssertEqual(try JSONDecoder().decode(Manifest.self, from: configOnly.manifest).layers.count, 1)
    }
}
