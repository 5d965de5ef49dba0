import Foundation
import XCTest
import ImagePrepTestSupport

@testable import ImagePrepArchive

final class RPMTests: XCTestCase {
    override class func tearDown() {
        RPMFixtures.remove()
    }

    func testRPMInspectCommandPrintsNEVRAAndFilesOrJSON() throws {
        let rpms = try RPMFixtures.build()
        let result = try CLI.run(["rpm", "inspect", rpms.old, rpms.arch])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, """
            hotfix-1.0-1.noarch  (\(rpms.old))
              summary: imageprep test package hotfix 1.0
              payload: cpio, gzip, 2 entries
              777    0          /usr/share/hotfix/CURRENT -> VERSION
              644    11         /usr/share/hotfix/VERSION
            hotfix-tool-2.0-1.x86_64  (\(rpms.arch))
              summary: imageprep test package hotfix-tool 2.0
              payload: cpio, gzip, 2 entries
              777    0          /usr/share/hotfix-tool/CURRENT -> VERSION
              644    5          /usr/share/hotfix-tool/VERSION

            """)
        let json = try CLI.run(["rpm", "inspect", "--json", rpms.new])
        XCTAssertEqual(json.status, 0, json.stderr)
        let decoded = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let package = try XCTUnwrap(decoded.first?["package"] as? [String: Any])
        XCTAssertEqual(package["epoch"] as? Int, 3)
        XCTAssertEqual(package["arch"] as? String, "noarch")

        let bad = try CLI.run(["rpm", "inspect", rpms.directory.appendingPathComponent("none.rpm").path])
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.stderr, "Error: \(rpms.directory.appendingPathComponent("none.rpm").path): no such file\n")
    }

    func testReadsNEVRASummaryAndFilesOfRealRPMs() throws {
        let rpms = try RPMFixtures.build()
        let old = try RPMPackage.read(path: rpms.old)
        XCTAssertEqual(old.nevra, "hotfix-1.0-1.noarch")
        XCTAssertNil(old.epoch)
        XCTAssertEqual(old.summary, "imageprep test package hotfix 1.0")
        XCTAssertEqual(old.files.sorted(), ["/usr/share/hotfix/CURRENT", "/usr/share/hotfix/VERSION"])
        XCTAssertFalse(old.isSource)

        let new = try RPMPackage.read(path: rpms.new)
        XCTAssertEqual(new.nevra, "hotfix-3:1.1-2.noarch")
        XCTAssertEqual(new.payloadCompressor, "zstd")

        XCTAssertEqual(try RPMPackage.read(path: rpms.arch).nevra, "hotfix-tool-2.0-1.x86_64")
    }

    func testPayloadIsStreamedThroughLibarchiveForGzipAndZstd() throws {
        let rpms = try RPMFixtures.build()
        for (path, content) in [(rpms.old, "hotfix 1.0\n"), (rpms.new, "hotfix 1.1 fixed\n")] {
            let inspection = try RPMInspection.inspect(path: path)
            let version = try XCTUnwrap(inspection.payload.first { $0.path == "/usr/share/hotfix/VERSION" })
            XCTAssertEqual(version.size, Int64(content.utf8.count))
            XCTAssertEqual(version.mode, "644")

            let reader = try ArchiveReader(path: path, format: .rpmPayload)
            var found: String?
            var kinds: [String: ArchiveEntry.Kind] = [:]
            while let entry = try reader.next() {
                kinds[entry.path] = entry.kind
                if entry.path.hasSuffix("/VERSION") { found = String(decoding: try reader.readAll(), as: UTF8.self) }
            }
            XCTAssertEqual(found, content)
            XCTAssertEqual(kinds.first { $0.key.hasSuffix("CURRENT") }?.value, .symlink)
        }
    }

    func testBadMagicTruncationAndCorruptPayloadAreClearErrors() throws {
        let rpms = try RPMFixtures.build()
        let directory = rpms.directory
        let notRPM = directory.appendingPathComponent("not.rpm").path
        try Data("hello, I am not a package".utf8).write(to: URL(fileURLWithPath: notRPM))
        XCTAssertThrowsError(try RPMPackage.read(path: notRPM)) { error in
            XCTAssertEqual("\(error)", "\(notRPM): not an RPM file (bad lead magic)")
        }

        let data = try Data(contentsOf: URL(fileURLWithPath: rpms.old))
        let truncated = directory.appendingPathComponent("truncated.rpm").path
        try data.prefix(200).write(to: URL(fileURLWithPath: truncated))
        XCTAssertThrowsError(try RPMPackage.read(path: truncated)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(truncated): truncated "), "\(error)")
        }

        // Header intact, payload cut short.
        let cut = directory.appendingPathComponent("cut-payload.rpm").path
        try data.prefix(data.count - 40).write(to: URL(fileURLWithPath: cut))
        XCTAssertNoThrow(try RPMPackage.read(path: cut))
        XCTAssertThrowsError(try RPMInspection.inspect(path: cut)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(cut): unreadable payload: "), "\(error)")
        }

        XCTAssertThrowsError(try RPMPackage.read(path: directory.appendingPathComponent("missing.rpm").path)) { error in
            XCTAssertTrue("\(error)".hasSuffix("missing.rpm: no such file"), "\(error)")
        }
    }

    func testTarLayersAreReadEntryByEntry() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-tar-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("root/etc"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "hello\n".write(to: directory.appendingPathComponent("root/etc/motd"), atomically: true, encoding: .utf8)
        let layer = directory.appendingPathComponent("layer.tar.gz").path
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-czf", layer, "-C", directory.appendingPathComponent("root").path, "etc"]
        try tar.run()
        tar.waitUntilExit()
        XCTAssertEqual(tar.terminationStatus, 0)

        let reader = try ArchiveReader(path: layer)
        var entries: [String: ArchiveEntry.Kind] = [:]
        var motd = ""
        while let entry = try reader.next() {
            entries[entry.path] = entry.kind
            if entry.path == "etc/motd" { motd = String(decoding: try reader.readAll(), as: UTF8.self) }
        }
        XCTAssertEqual(entries, ["etc/": .directory, "etc/motd": .file])
        XCTAssertEqual(motd, "hello\n")

        // A gzip stream cut in half is an error naming the layer.
        let data = try Data(contentsOf: URL(fileURLWithPath: layer))
        let truncated = directory.appendingPathComponent("truncated.tar.gz").path
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
        XCTAssertThrowsError(try {
            let reader = try ArchiveReader(path: truncated)
            while try reader.next() != nil { try reader.readData { _ in } }
        }()) { error in
            XCTAssertTrue("\(error)".hasPrefix(truncated), "\(error)")
        }
    }
}
