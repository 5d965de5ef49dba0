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

    /// Found by `scripts/fuzz` (target rpm), kept byte for byte (gzipped):
    /// a payload whose cpio header claims a 4 GB name. libarchive 3.6
    /// reserves that much (address space only), then fails without a
    /// message; the error says what is wrong and names the file.
    func testPayloadClaimingAHugeNameIsAClearError() throws {
        let input = Data(base64Encoded: """
            H4sIAAAAAAACA+2YW2gcVRjHz25i0ktqEtPSXBTzUDERd/fMfQbUtEZqAmoLWogYi3PmnJOO3WTX3U1I96niBaqgtQq2EanVUOL1\
            xVoqSFEUqeBDKX1QRCjYYiK96EuxxRrPzvzXNkV98Hn+yZkzv/l/35mzZ87swnfu/fM/NBCllJysVstC8IyWpRmN/B+lyA3XX3rp\
            w/kUTpsJaTuk+ntwPqv6NpW0SvVNf49AUu3g/pgb5lXfqFoefDbOJ8U4v+EC/J3wf4X/rLJ7fcfVfSfwXEcKyblrOcKkjiEtzTVd\
            19d0g0pKTZe4kmvM4YK71DYpE9wLLIMJ6VuWbXqWRnWD654jKXe55weBTw3OhEq2dd9S4dH0m75/84WNp3Y99uTRL9jRmeH9Zo6Q\
            dCdJlChRokSJEiVKlChRokSJEiVCTWRxcXE3iWoaS+omBiHpS6ofIFFdI72AmFrJYRli6nWSWt0kDV4ArwT/Am4lV+soy1VrB58D\
            94DPk7iu0gu+gPx14N/g94Evwr8T/DvGo+Ar8O8C/wm+N+bGRoz3gGoN6rQp7skIeDl4K3gF4jl4JdajCG4Bfwxehfhvwa3wvwO3\
            gX8Gr8b8LmJ+a+L8VBv8tXF86mb4nfD74HfBN8Hd4GfAffH4qX3Ivx/5b8EfAn8AHkb+EfAI/M+Q/yj8z8Gj8I8h/nH4J8FbwWfA\
            LJ5PGvupkYObwQLcApZg7J/GPLgDXInvn66vxyS4vh5T8f3T62PueBX+SJzf8TXGGwWfRjwDn0H8LHgB/lyNB0m9nkm0LCVahL0R\
            R4ftrVv2TI1H707Pg8OPkC0T5aIIQhkqLx9OTE6TiYJfCrZd847W9sKaDeeenj2wGF+ojVFvxHI9jVnM0nVucUldm1MpKdM0Khn3\
            uK4xZsrA0WzDl4bJqau7tq8L17SlzQQ1agNmszn1LypBrjbbnJ8NChNy6RdFqVCo/PthaQ03Wy4F2VIx+pSL1yiKWheXLNXCrag3\
            FZoPWd9gYbxYEuWy4BvDvHjIHxflfgKvduW+cEyUK1evbfZ35At+FFwe8qfE5pKQ4XQ/MbI0a2Y0YmbtqKJs4qi5WYpbL2lpvN81\
            LbuuCB35tXkTLIp6RttJtFTk6oKR3GS5lGPhRI5kNum9mTESFMMCGauGReLhgWa4YKE/kYkf8j8puhcPSyKoFEo7yIaHB4eHeyti\
            ulKf22RFZlziS5ubmuZpgWcErmvY6sTyAmoxX1rMsKjlWqbJuYoLpKFifMNzHY8FprQdGdjxWGq7SOYq9gLDF7rpSF1tJN3SfO5b\
            3HEsy7G4iqG2bxua0DQmHeqp/eJwETA9eoYD8Y/HH8drPwy3vhj/JqQbDOqoP3MnoeNs7wzbeUvnzG1ds/tmTnR37W7a80TL3VdO\
            7uFXDp14746mXrr+cE/+4HP+28tfmXqjfeyTA+0Hf7y8q/pfu/SbSzvClq53Pe/S6LbztKl91/Nh+NWnXx5/7RgdGjzyzqEjQwP9\
            xqaB241cz+obq9XL1b0fDZbXbni5e3fzqac6bjo9v/BT9+zc3LJSB9l/+PWznep75y/uad5QjRgAAA==
            """)!
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-rpm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let compressed = directory.appendingPathComponent("huge-name.rpm.gz")
        try input.write(to: compressed)
        let result = try CLI.runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["gzip", "-d", compressed.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let rpm = directory.appendingPathComponent("huge-name.rpm").path
        XCTAssertEqual(try RPMPackage.read(path: rpm).name, "fuzzseed", "the header is intact")
        XCTAssertThrowsError(try RPMInspection.inspect(path: rpm)) { error in
            XCTAssertEqual("\(error)", "\(rpm): unreadable payload: damaged or truncated data (libarchive status -30)")
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
