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

    /// A directory opened under the root stays the directory written: a link planted on the
    /// way after it was opened (the directory moved away, a link to outside in its place)
    /// never receives the write; a new open refuses the link, naming it.
    func testWritesGoToTheOpenedDirectoryEvenIfALinkIsPlantedMeanwhile() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-handle-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let root = work.appendingPathComponent("serve")
        let outside = work.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let blobs = root.appendingPathComponent("v2/repo/blobs")
        let handle = try XCTUnwrap(try DirectoryHandle.open(blobs, under: root, create: true))
        try FileManager.default.moveItem(at: root.appendingPathComponent("v2/repo"), to: root.appendingPathComponent("v2/moved"))
        XCTAssertEqual(symlink(outside.path, root.appendingPathComponent("v2/repo").path), 0)

        let file = try BlobFile(in: handle, for: "blob")
        try file.write(Data("bytes".utf8))
        try file.finish()
        XCTAssertEqual(renameat(handle.fd, file.name, handle.fd, "blob"), 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside.path), [])
        XCTAssertEqual(try Data(contentsOf: root.appendingPathComponent("v2/moved/blobs/blob")), Data("bytes".utf8))
        XCTAssertEqual(handle.names(), ["blob"])

        XCTAssertThrowsError(try DirectoryHandle.open(blobs, under: root, create: true)) { error in
            XCTAssertEqual((error as? ImageServeError)?.path, root.appendingPathComponent("v2/repo").path)
            XCTAssertTrue("\(error)".contains("is a symbolic link where imageprep keeps a directory or file of its own"), "\(error)")
        }
        XCTAssertEqual(ImageServeFiles.names(in: blobs, under: root), [])
        XCTAssertNil(ImageServeFiles.read(blobs.appendingPathComponent("blob"), under: root))
    }

    /// With `catalogAtEnd` (a prepare's directory), a run's new repositories get their tags
    /// lists as each tag is written, and join the catalog in one write at `writeCatalog()`,
    /// added to what the catalog already lists; without it, each is listed at once.
    func testACatalogLeftForTheEndIsWrittenOnceWithEveryNewRepository() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let catalogFile = root.appendingPathComponent("v2/_catalog")
        func catalog() -> String? { try? String(contentsOf: catalogFile, encoding: .utf8) }
        func inode() -> UInt64? { ImageServeFiles.inode(catalogFile)?.inode }
        let manifest = Data(#"{"schemaVersion":2}"#.utf8)
        // A repository (as tripleo-common counts them) has blobs, manifests and tags.
        for name in ["ns/first", "ns/a", "ns/b", "ns/c"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent("v2/\(name)/blobs"), withIntermediateDirectories: true)
        }

        let single = try ImageServeDirectory(root: root)
        try single.writeManifest(manifest, mediaType: .dockerManifest, repository: "ns/first", tag: "1")
        XCTAssertEqual(catalog(), #"{"repositories": ["ns/first"]}"#)

        let run = try ImageServeDirectory(root: root, catalogAtEnd: true)
        let before = inode()
        for name in ["ns/c", "ns/a", "ns/b"] {
            try run.writeManifest(manifest, mediaType: .dockerManifest, repository: name, tag: "1")
            XCTAssertEqual(try String(contentsOf: root.appendingPathComponent("v2/\(name)/tags/list"), encoding: .utf8),
                           #"{"name": "\#(name)", "tags": ["1"]}"#)
        }
        XCTAssertEqual(catalog(), #"{"repositories": ["ns/first"]}"#, "not rewritten per repository")
        XCTAssertEqual(inode(), before)
        try run.writeCatalog()
        XCTAssertEqual(catalog(), #"{"repositories": ["ns/a", "ns/b", "ns/c", "ns/first"]}"#)
        let after = inode()
        XCTAssertNotEqual(after, before)
        // Nothing left: a second call writes nothing.
        try run.writeCatalog()
        XCTAssertEqual(inode(), after)
        // Another tag of a listed repository leaves the catalog alone.
        try run.writeManifest(manifest, mediaType: .dockerManifest, repository: "ns/a", tag: "2")
        try run.writeCatalog()
        XCTAssertEqual(inode(), after)
    }
}
