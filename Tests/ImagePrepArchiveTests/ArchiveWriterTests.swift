import Foundation
import XCTest

@testable import ImagePrepArchive

/// The writer behind the layer engine: what it writes reads back through the reader, and the
/// same entries always give the same bytes.
final class ArchiveWriterTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-writer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func write(_ entries: [ArchiveWriter.Entry], compression: ArchiveWriter.Compression) throws -> Data {
        var bytes = Data()
        let writer = try ArchiveWriter(destination: "test layer", compression: compression) { bytes.append(contentsOf: $0) }
        for entry in entries { try writer.add(entry) }
        try writer.finish()
        return bytes
    }

    func testEntriesReadBackAndBytesAreReproducible() throws {
        let big = directory.appendingPathComponent("big")
        // Several write buffers' worth, with content that does not repeat.
        var content = Data()
        for index in 0..<40_000 { content.append(contentsOf: "line \(index)\n".utf8) }
        try content.write(to: big)
        let small = directory.appendingPathComponent("small")
        try Data("hello\n".utf8).write(to: small)
        let longName = "opt/" + String(repeating: "long-directory-name/", count: 8) + "file.txt"
        let entries: [ArchiveWriter.Entry] = [
            .init(path: "opt", kind: .directory, mode: 0o750, mtime: 1_500_000_000),
            .init(path: "opt/big.bin", kind: .file(source: big, size: Int64(content.count)), mode: 0o644, mtime: 1_500_000_000),
            .init(path: "opt/link", kind: .symlink(target: "big.bin"), mode: 0o777, mtime: 1_500_000_000),
            .init(path: longName, kind: .file(source: small, size: 6), mode: 0o4755, uid: 1000, gid: 1000, mtime: 1_500_000_000),
        ]

        let first = try write(entries, compression: .gzip)
        let second = try write(entries, compression: .gzip)
        XCTAssertEqual(first, second, "gzip output must not carry a timestamp")
        XCTAssertEqual(Array(first.prefix(2)), [0x1f, 0x8b])
        let plain = try write(entries, compression: .none)
        XCTAssertEqual(plain.count % 512, 0)
        XCTAssertLessThan(first.count, plain.count)

        let archive = directory.appendingPathComponent("layer.tar.gz")
        try first.write(to: archive)
        let reader = try ArchiveReader(path: archive.path)
        var read: [ArchiveEntry] = []
        var bigContent: [UInt8] = []
        while let entry = try reader.next() {
            read.append(entry)
            if entry.path == "opt/big.bin" { bigContent = try reader.readAll() }
        }
        XCTAssertEqual(read.map(\.path), ["opt/", "opt/big.bin", "opt/link", longName])
        XCTAssertEqual(read.map(\.kind), [.directory, .file, .symlink, .file])
        XCTAssertEqual(read.map(\.mode), [0o750, 0o644, 0o777, 0o4755])
        XCTAssertEqual(read[2].linkTarget, "big.bin")
        XCTAssertEqual(read[3].size, 6)
        XCTAssertEqual(Data(bigContent), content)
    }

    func testUnreadableSourceAndFailingSinkNameTheEntry() throws {
        let missing = ArchiveWriter.Entry(
            path: "etc/app.conf", kind: .file(source: directory.appendingPathComponent("nope"), size: 3), mode: 0o644)
        XCTAssertThrowsError(try write([missing], compression: .none)) { error in
            XCTAssertEqual((error as? ArchiveError)?.entry, "etc/app.conf")
            XCTAssertTrue("\(error)".contains("cannot read"), "\(error)")
        }

        struct DiskFull: Error, CustomStringConvertible {
            var description: String { "no space left on device" }
        }
        let file = directory.appendingPathComponent("data")
        try Data(count: 300_000).write(to: file)
        XCTAssertThrowsError(try {
            let writer = try ArchiveWriter(destination: "layer.tar", compression: .none) { _ in throw DiskFull() }
            try writer.add(.init(path: "data", kind: .file(source: file, size: 300_000), mode: 0o644))
            try writer.finish()
        }()) { error in
            XCTAssertTrue("\(error)".contains("layer.tar"), "\(error)")
            XCTAssertTrue("\(error)".contains("no space left on device"), "\(error)")
        }
    }
}
