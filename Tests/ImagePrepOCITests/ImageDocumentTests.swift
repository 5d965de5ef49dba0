import Foundation
import XCTest

@testable import ImagePrepOCI

/// The one editor of configs and manifests: unknown fields survive, numbers stay numbers, and
/// the encoding is canonical.
final class ImageDocumentTests: XCTestCase {
    func testEditsKeepEveryOtherField() throws {
        let text = #"{"z":{"deep":[1,2.5,true,null,"s"]},"config":{"User":"nova","Labels":{"a":"1"},"Healthcheck":{"Test":["CMD"]}},"history":[],"big":9007199254740993}"#
        var document = try ImageDocument(Data(text.utf8), what: "the config")
        document.setLabel("modified_append_tag", "-hotfix")
        document[setting: "User"] = .string("root")
        document.appendLayer(
            diffID: try Digest("sha256:" + String(repeating: "a", count: 64)), created: "C", createdBy: "by", comment: "c")
        let encoded = String(decoding: document.encoded(), as: UTF8.self)
        XCTAssertTrue(encoded.hasPrefix(#"{"big":9007199254740993,"config":{"Healthcheck":{"Test":["CMD"]},"Labels":{"a":"1","modified_append_tag":"-hotfix"},"User":"root"}"#), encoded)
        XCTAssertTrue(encoded.contains(#""z":{"deep":[1,2.5,true,null,"s"]}"#), encoded)
        XCTAssertTrue(encoded.contains(#""rootfs":{"diff_ids":["sha256:aaaa"#), encoded)
        XCTAssertEqual(try ImageDocument(document.encoded(), what: "again"), document, "reading the encoding gives the same document")
        XCTAssertEqual(document.labels, ["a": "1", "modified_append_tag": "-hotfix"])
    }

    func testManifestLayersAreReplacedInPlace() throws {
        let digest = try Digest("sha256:" + String(repeating: "b", count: 64))
        var manifest = try ImageDocument(Data(#"{"layers":[{"mediaType":"m","digest":"sha256:x","size":1,"annotations":{"k":"v"}}]}"#.utf8), what: "m")
        XCTAssertTrue(manifest.setLayer(at: 0, digest: digest, size: 7))
        XCTAssertFalse(manifest.setLayer(at: 1, digest: digest, size: 7))
        XCTAssertEqual(
            String(decoding: manifest.encoded(), as: UTF8.self),
            #"{"layers":[{"annotations":{"k":"v"},"digest":"\#(digest)","mediaType":"m","size":7}]}"#)
    }

    func testNotAnObjectIsOneClearError() {
        XCTAssertThrowsError(try ImageDocument(Data("[1]".utf8), what: "the image config of r/x:1")) { error in
            XCTAssertEqual("\(error)", "the image config of r/x:1 is not a JSON object: another JSON value")
        }
        XCTAssertThrowsError(try ImageDocument(Data("{".utf8), what: "the manifest")) { error in
            XCTAssertEqual("\(error)", "the manifest is not a JSON object: unreadable JSON")
        }
    }
}
