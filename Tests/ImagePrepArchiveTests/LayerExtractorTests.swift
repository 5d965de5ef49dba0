import Foundation
import ImagePrepTestSupport
import XCTest

@testable import ImagePrepArchive

/// Layers made by the test with Python's tarfile: whiteouts, and the `..`,
/// absolute-path and symlink attacks.
final class LayerExtractorTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-layers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes a gzip tar layer; each entry is `(kind, path, content or link)`.
    private func layer(_ name: String, _ entries: [(String, String, String)]) throws -> String {
        let path = directory.appendingPathComponent(name).path
        let spec = try JSONSerialization.data(withJSONObject: entries.map { [$0.0, $0.1, $0.2] })
        let script = """
            import io, json, os, sys, tarfile
            with tarfile.open(sys.argv[1], "w:gz") as tar:
                for kind, name, value in json.loads(sys.argv[2]):
                    info = tarfile.TarInfo(name)
                    if kind == "dir":
                        info.type = tarfile.DIRTYPE; info.mode = 0o755; tar.addfile(info)
                    elif kind == "link":
                        info.type = tarfile.SYMTYPE; info.linkname = value; tar.addfile(info)
                    elif kind == "hard":
                        info.type = tarfile.LNKTYPE; info.linkname = value; tar.addfile(info)
                    elif kind == "fifo":
                        info.type = tarfile.FIFOTYPE; tar.addfile(info)
                    else:
                        data = os.urandom(int(value[7:])) if value.startswith("random:") else value.encode()
                        info.size = len(data); info.mode = 0o644
                        tar.addfile(info, io.BytesIO(data))
            """
        let result = try CLI.runProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, path, String(decoding: spec, as: UTF8.self)])
        XCTAssertEqual(result.status, 0, result.stderr)
        return path
    }

    private func read(_ path: String, in root: URL) -> String? {
        try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    func testWhiteoutsHideLowerLayersInOrder() throws {
        let lower = try layer("lower.tar.gz", [
            ("dir", "etc", ""), ("file", "etc/keep", "keep"), ("file", "etc/gone", "gone"),
            ("dir", "opt/app", ""), ("file", "opt/app/old", "old"),
        ])
        let upper = try layer("upper.tar.gz", [
            ("file", "etc/.wh.gone", ""), ("file", "opt/app/new", "new"), ("file", "opt/app/.wh..wh..opq", ""),
        ])
        let root = directory.appendingPathComponent("root")
        var extractor = LayerExtractor(root: root)
        try extractor.apply(try ArchiveReader(path: lower), layer: "lower")
        try extractor.apply(try ArchiveReader(path: upper), layer: "upper")
        XCTAssertEqual(read("etc/keep", in: root), "keep")
        XCTAssertNil(read("etc/gone", in: root))
        XCTAssertNil(read("opt/app/old", in: root), "the opaque whiteout hides the lower layer's files")
        XCTAssertEqual(read("opt/app/new", in: root), "new", "but not this layer's own")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("etc/.wh.gone").path))
        XCTAssertEqual(extractor.notes, [])
    }

    func testNothingIsWrittenOutsideTheRoot() throws {
        let outside = directory.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        let attack = try layer("attack.tar.gz", [
            ("file", "../outside/escaped", "x"),
            ("file", "/abs/file", "absolute"),
            ("link", "sneaky", outside.path),
            ("file", "sneaky/through-link", "x"),
            ("link", "up", "../../.."),
            ("file", "up/outside/climbed", "x"),
            ("hard", "hardlink", "/etc/passwd"),
            ("fifo", "pipe", ""),
        ])
        let root = directory.appendingPathComponent("root")
        var extractor = LayerExtractor(root: root)
        try extractor.apply(try ArchiveReader(path: attack), layer: "sha256:attack")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside.path), [], "nothing may land outside the root")
        XCTAssertEqual(read("abs/file", in: root), "absolute", "absolute paths are made relative to the root")
        XCTAssertEqual(extractor.notes, [
            "sha256:attack: refused ../outside/escaped: the path leaves the image root",
            "sha256:attack: refused sneaky/through-link: a parent is a symbolic link",
            "sha256:attack: refused up/outside/climbed: a parent is a symbolic link",
            "sha256:attack: skipped hard link hardlink: its target is not a file of the image",
            "sha256:attack: skipped pipe: devices and FIFOs are not extracted",
        ])
    }

    /// A hard link is made only to a regular file the image has put there: never to a
    /// directory (link(2) would refuse it with a raw file system error), a symbolic link's
    /// target or anything outside.
    func testHardLinksToDirectoriesAndThroughLinksAreSkipped() throws {
        let outside = directory.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try "outside".write(to: outside.appendingPathComponent("file"), atomically: true, encoding: .utf8)
        let links = try layer("links.tar.gz", [
            ("dir", "var/lib/rpm/sub", ""), ("file", "var/lib/rpm/real", "real"),
            ("hard", "var/lib/rpm/to-dir", "var/lib/rpm/sub"), ("hard", "var/lib/rpm/to-root", "."),
            ("link", "var/lib/rpm/out", outside.path), ("hard", "var/lib/rpm/through", "var/lib/rpm/out/file"),
            ("hard", "var/lib/rpm/to-link", "var/lib/rpm/out"), ("hard", "var/lib/rpm/good", "var/lib/rpm/real"),
        ])
        let root = directory.appendingPathComponent("root")
        var extractor = LayerExtractor(root: root)
        try extractor.apply(try ArchiveReader(path: links), layer: "sha256:links")
        XCTAssertEqual(read("var/lib/rpm/good", in: root), "real")
        for name in ["to-dir", "to-root", "through", "to-link"] {
            var info = stat()
            XCTAssertNotEqual(lstat(root.appendingPathComponent("var/lib/rpm/\(name)").path, &info), 0, name)
        }
        XCTAssertEqual(extractor.notes.filter { $0.contains("skipped hard link") }.count, 4, "\(extractor.notes)")
        XCTAssertEqual(try String(contentsOf: outside.appendingPathComponent("file"), encoding: .utf8), "outside")
    }

    /// `maxFileSize` bounds what a file's header claims and what its data turns out to be.
    func testAFileOverTheSizeLimitIsAnErrorNamingTheEntry() throws {
        let big = try layer("big.tar.gz", [("dir", "db", ""), ("file", "db/Packages", "random:5000")])
        var extractor = LayerExtractor(root: directory.appendingPathComponent("root"))
        extractor.maxFileSize = 4096
        extractor.maxFileSizeName = "--max-rpmdb-size"
        XCTAssertThrowsError(try extractor.apply(try ArchiveReader(path: big), layer: "sha256:big")) { error in
            XCTAssertEqual(error as? ArchiveError, ArchiveError(
                source: "sha256:big", entry: "db/Packages",
                message: "5000 bytes or more, over the limit of 4096 bytes (--max-rpmdb-size)"))
        }
        extractor.maxFileSize = 5000
        XCTAssertNoThrow(try extractor.apply(try ArchiveReader(path: big), layer: "sha256:big"))
    }

    /// A file system error is the entry's path in the image and the reason, never
    /// Foundation's message with the extraction directory.
    func testAFileSystemErrorNamesTheEntryNotTheDirectory() throws {
        let name = "var/lib/rpm/" + String(repeating: "n", count: 300)
        let deep = "var/lib/rpm/" + String(repeating: "d/", count: 2100) + "x"
        for (file, path, message) in [
            ("long.tar.gz", name, "cannot create: File name too long"),
            ("deep.tar.gz", deep, "cannot create: File name too long"),
        ] {
            let input = try layer(file, [("file", path, "x")])
            let root = directory.appendingPathComponent("root-\(file)")
            var extractor = LayerExtractor(root: root)
            XCTAssertThrowsError(try extractor.apply(try ArchiveReader(path: input), layer: "sha256:\(file)")) { error in
                XCTAssertEqual(error as? ArchiveError, ArchiveError(source: "sha256:\(file)", entry: path, message: message))
            }
        }
    }

    /// Found by `scripts/fuzz` (target layer): a top-level entry with a
    /// one-character name trapped in Foundation's path handling.
    func testOneCharacterNamesAtTheTopAreExtracted() throws {
        let single = try layer("single.tar.gz", [
            ("dir", "d", ""), ("file", "d/f", "inside"), ("file", "a", "top"), ("file", "./b", "dot"),
            ("link", "l", "a"), ("file", ".wh.b", ""), ("file", "é", "accent"),
        ])
        let root = directory.appendingPathComponent("root")
        var extractor = LayerExtractor(root: root)
        try extractor.apply(try ArchiveReader(path: single), layer: "sha256:single")
        XCTAssertEqual(read("d/f", in: root), "inside")
        XCTAssertEqual(read("a", in: root), "top")
        XCTAssertEqual(read("l", in: root), "top")
        XCTAssertNil(read("b", in: root), "the whiteout .wh.b at the top removes b")
        XCTAssertEqual(read("é", in: root), "accent")
        XCTAssertEqual(extractor.notes, [])
    }

    /// Found by `scripts/fuzz` (target layer), kept byte for byte (gzipped):
    /// a GNU sparse file whose map is damaged. libarchive's data read
    /// answered ARCHIVE_WARN, which reached a slice as a length and trapped.
    func testDamagedSparseMapIsAnErrorNamingTheLayerAndEntry() throws {
        let input = Data(base64Encoded: """
            H4sIAAAAAAACA+3SUQrDIAwG4DzvFN6g0ZjsIDuBsD1XjLv/RDYGDloYtFCa7+UPKD7kV/MEW8PmytyzGbPPnglJOAhFQI8BGRz\
            DDp5aU3EOyjzXpXtr5weledKcij427l9iXOifh/5FiMDdTtE/ts/e+HEjPXz4zu+t/bX+z0M/7qmmCxhjjDmbF0YUknEACgAA
            """)!
        var offset = 0
        let reader = try ArchiveReader(source: "sha256:sparse") { buffer in
            let count = min(buffer.count, input.count - offset)
            input.copyBytes(to: buffer.bindMemory(to: UInt8.self), from: offset..<offset + count)
            offset += count
            return count
        }
        var extractor = LayerExtractor(root: directory.appendingPathComponent("root"))
        XCTAssertThrowsError(try extractor.apply(reader, layer: "sha256:sparse")) { error in
            let error = error as? ArchiveError
            XCTAssertEqual(error?.source, "sha256:sparse")
            XCTAssertEqual(error?.entry, "sp/sparse")
        }
    }

    /// Found by `scripts/fuzz` (target layer): a 3 KiB cpio archive whose
    /// name size claims 2.5 GB made libarchive allocate that much. A layer is
    /// read as tar only, so a cpio "layer" is refused before any allocation.
    func testACpioArchiveIsNotALayer() throws {
        // The fuzzer's input, gzipped.
        let input = Data(base64Encoded: """
            H4sIAAAAAAACA+2VzW6CQBSFZ+1b8AJwL8wPswSdSUxcme6aLrCS1FRbi9bEJ+y2j1TA2g4TrEgkMSknIeFnwnfm3sMFBAhAAB0q\
            DIaQi6IaQb0CHoNmTMrqba3gb9HjSbp9JISAyRydYfrtmAgG09u/r9wsXb9u3LnF5+WeI9T61IuqfPQb7lma/OXi5ZkQw4WXlGff\
            XqR/8BIV60OM6JVrIU7U4seFVZNLfYg2NXlKsrwZ94WBh0E1E6rrHO6SzM6h7ogZGsw8BzOLe7B0/fzD0OJ62Xpl9zk+02cr+8Ab\
            svt50e28aPud3vS8+Pzo58X/nBcoa9jFMZ+5m7flYpsSUl4Nfv00UpN1GFLKBaUggvxHzBhyZPHx4d00Gk/U1HEc0utS3UqH69R3\
            uGN9Ac3jZtdYDAAA
            """)!
        let layer = directory.appendingPathComponent("layer.cpio.gz")
        try input.write(to: layer)
        var extractor = LayerExtractor(root: directory.appendingPathComponent("root"))
        XCTAssertThrowsError(try extractor.apply(try ArchiveReader(path: layer.path), layer: "sha256:cpio")) { error in
            XCTAssertEqual((error as? ArchiveError)?.source, layer.path)
            XCTAssertEqual((error as? ArchiveError)?.message, "Unrecognized archive format")
        }
        XCTAssertNotNil(try ArchiveReader(path: layer.path, format: .any).next(), "an explicit .any still reads cpio")
    }

    func testTruncatedLayerNamesTheLayer() throws {
        let good = try layer("good.tar.gz", [("file", "big", "random:400000")])
        let data = try Data(contentsOf: URL(fileURLWithPath: good))
        let truncated = directory.appendingPathComponent("truncated.tar.gz").path
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
        var extractor = LayerExtractor(root: directory.appendingPathComponent("root"))
        XCTAssertThrowsError(try extractor.apply(try ArchiveReader(path: truncated), layer: "sha256:cut")) { error in
            XCTAssertTrue("\(error)".hasPrefix(truncated), "\(error)")
        }
    }

    func testStreamedReaderReadsALayerChunkByChunk() throws {
        let path = try layer("stream.tar.gz", [("dir", "etc", ""), ("file", "etc/motd", "streamed\n")])
        let handle = try XCTUnwrap(FileHandle(forReadingAtPath: path))
        defer { try? handle.close() }
        var calls = 0
        let reader = try ArchiveReader(source: "sha256:stream") { buffer in
            calls += 1
            // Small pieces, as a network would deliver them.
            let data = try handle.read(upToCount: min(buffer.count, 100)) ?? Data()
            data.copyBytes(to: buffer)
            return data.count
        }
        var root = directory.appendingPathComponent("root")
        root.standardize()
        var extractor = LayerExtractor(root: root, include: { $0.hasPrefix("etc/") })
        try extractor.apply(reader, layer: "sha256:stream")
        XCTAssertEqual(read("etc/motd", in: root), "streamed\n")
        XCTAssertGreaterThan(calls, 2)

        struct Broken: Error, CustomStringConvertible { var description: String { "connection reset" } }
        XCTAssertThrowsError(try {
            let failing = try ArchiveReader(source: "sha256:broken") { _ in throw Broken() }
            while try failing.next() != nil {}
        }()) { error in
            XCTAssertEqual("\(error)", "sha256:broken: connection reset")
        }
    }
}
