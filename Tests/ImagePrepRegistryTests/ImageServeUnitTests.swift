import Foundation
import XCTest

@testable import ImagePrepRegistry
import ImagePrepOCI

/// The image-serve directory's pure parts: type maps and blob names.
final class ImageServeUnitTests: XCTestCase {
    let list = try! Digest("sha256:" + String(repeating: "a", count: 64))
    let image = try! Digest("sha256:" + String(repeating: "b", count: 64))

    func testTypeMapsRoundTripAndTheTagNamesTheList() throws {
        let single = TypeMap(tag: "1.0", variants: [TypeMap.Variant(mediaType: .dockerManifest, digest: image)])
        XCTAssertEqual(single.text, "URI: 1.0\n\nContent-Type: \(MediaType.dockerManifest)\nURI: \(image)/index.json\n\n")
        XCTAssertEqual(TypeMap.parse(single.text, tag: "1.0"), single)
        XCTAssertEqual(single.taggedDigest, image)

        let multi = TypeMap(tag: "2.0", variants: [
            TypeMap.Variant(mediaType: .dockerManifestList, digest: list, quality: "1"),
            TypeMap.Variant(mediaType: .dockerManifest, digest: image, quality: "0.5"),
        ])
        XCTAssertTrue(multi.text.contains("Content-Type: \(MediaType.dockerManifestList); qs=1\nURI: \(list)/index.json\n"))
        let parsed = try XCTUnwrap(TypeMap.parse(multi.text, tag: "2.0"))
        XCTAssertEqual(parsed.variants.map(\.mediaType), [.dockerManifestList, .dockerManifest])
        XCTAssertEqual(parsed.taggedDigest, list, "the tag stands for the list, not its amd64 image")
    }

    func testTypeMapParsingIsLenientLikeUpstreamsAndRejectsWhatNamesNoManifest() {
        // Blocks in either order, no final blank line, extra spaces.
        let text = "URI: t\n\nContent-Type:  \(MediaType.dockerManifest) \nURI: \(image)/index.json\n\nContent-Type: \(MediaType.dockerManifestList)\nURI: \(list)/index.json"
        XCTAssertEqual(TypeMap.parse(text, tag: "t")?.taggedDigest, list)
        XCTAssertNil(TypeMap.parse("URI: t\n\n", tag: "t"))
        XCTAssertNil(TypeMap.parse("Content-Type: x\nURI: ../../etc/passwd\n\n", tag: "t"))
        XCTAssertNil(TypeMap.parse(String(repeating: "garbage\n", count: 100), tag: "t"))
    }

    func testConfigsHaveNoSuffixAndLayersKeepGz() {
        XCTAssertEqual(ImageServeDirectory.blobName(image, mediaType: .dockerConfig), image.description)
        XCTAssertEqual(ImageServeDirectory.blobName(image, mediaType: .ociConfig), image.description)
        XCTAssertEqual(ImageServeDirectory.blobName(image, mediaType: .ociLayer), "\(image).gz")
        XCTAssertEqual(ImageServeDirectory.blobName(image, mediaType: "application/vnd.oci.image.layer.v1.tar+zstd"), "\(image).gz")
    }
}
