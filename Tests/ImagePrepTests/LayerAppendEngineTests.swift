import Foundation
import XCTest

import ImagePrepRegistry

@testable import ImagePrep
import ImagePrepOCI

/// The layer engine's pure parts: creation times and the config and manifest it writes.
final class LayerAppendEngineTests: XCTestCase {
    func testCreationTimesParseWithoutAFormatter() {
        XCTAssertEqual(LayerAppendEngine.epochSeconds("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(LayerAppendEngine.epochSeconds("2019-05-01T10:20:30.123456789Z"), 1_556_706_030)
        XCTAssertEqual(LayerAppendEngine.epochSeconds("2000-02-29T00:00:00Z"), 951_782_400)
        XCTAssertEqual(LayerAppendEngine.epochSeconds("2026-11-25T16:19:20.4632589+02:00"), 1_795_616_360)
        XCTAssertEqual(LayerAppendEngine.epochSeconds("1969-12-31T23:59:59Z"), -1)
        XCTAssertNil(LayerAppendEngine.epochSeconds("yesterday"))
        XCTAssertEqual(LayerAppendEngine.created(in: Data("{}".utf8)).seconds, 0)
    }

    func testConfigAndManifestGainTheLayerAndKeepTheRest() throws {
        let config = Data(#"{"created":"2019-05-01T10:20:30Z","history":[{"created_by":"base"}],"rootfs":{"diff_ids":["sha256:aa"],"type":"layers"},"unknown":{"kept":true}}"#.utf8)
        let diffID = try Digest("sha256:" + String(repeating: "b", count: 64))
        let extended = try JSONSerialization.jsonObject(
            with: LayerAppendEngine.extend(config: config, diffID: diffID, created: "C", createdBy: "imageprep")) as? [String: Any]
        XCTAssertEqual((extended?["rootfs"] as? [String: Any])?["diff_ids"] as? [String], ["sha256:aa", diffID.description])
        XCTAssertEqual((extended?["history"] as? [[String: Any]])?.last?["created_by"] as? String, "imageprep")
        XCTAssertEqual((extended?["unknown"] as? [String: Bool])?["kept"], true)

        let configOnly = try JSONSerialization.jsonObject(
            with: LayerAppendEngine.extend(config: config, diffID: nil, created: "C", createdBy: "imageprep")) as? [String: Any]
        XCTAssertEqual((configOnly?["rootfs"] as? [String: Any])?["diff_ids"] as? [String], ["sha256:aa"])
        XCTAssertEqual((configOnly?["history"] as? [[String: Any]])?.last?["empty_layer"] as? Bool, true)
    }
}
