import Foundation
import ImagePrepFiles
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class DurableFileTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("durable-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func mode(_ path: String) -> mode_t {
        var info = stat()
        XCTAssertEqual(lstat(path, &info), 0, path)
        return info.st_mode & 0o7777
    }

    func testReplaceWritesTheBytesWithItsModeWhateverTheUmaskAndLeavesNoTemporary() throws {
        let target = directory.appendingPathComponent("out.yaml").path
        let previous = umask(0o077)
        defer { umask(previous) }
        try DurableFile.replace(atPath: target, with: Data("first\n".utf8), temporaryPrefix: ".out.yaml.imageprep-")
        try DurableFile.replace(atPath: target, with: Data("second\n".utf8), temporaryPrefix: ".out.yaml.imageprep-")
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "second\n")
        XCTAssertEqual(mode(target), 0o644)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["out.yaml"])
    }

    func testReplaceRenamesOverALinkInsteadOfWritingThroughIt() throws {
        let outside = directory.appendingPathComponent("outside").path
        try Data("keep".utf8).write(to: URL(fileURLWithPath: outside))
        let target = directory.appendingPathComponent("env.yaml").path
        XCTAssertEqual(symlink(outside, target), 0)
        try DurableFile.replace(atPath: target, with: Data("new".utf8), temporaryPrefix: ".env.yaml.imageprep-")
        XCTAssertEqual(try String(contentsOfFile: outside, encoding: .utf8), "keep")
        var info = stat()
        XCTAssertEqual(lstat(target, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFREG)
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "new")
    }

    func testReplaceInAMissingDirectoryNamesItAndCreatesNothing() {
        let missing = directory.appendingPathComponent("gone/out.yaml").path
        XCTAssertThrowsError(try DurableFile.replace(atPath: missing, with: Data("x".utf8), temporaryPrefix: ".x-")) { error in
            let failure = error as? FileError
            XCTAssertEqual(failure?.code, .cannotCreate)
            XCTAssertEqual(failure?.path, directory.appendingPathComponent("gone").path)
            XCTAssertEqual(failure?.reason, "No such file or directory")
        }
    }

    func testWriteAllToAFullDeviceIsAnOutOfSpaceWriteFailure() throws {
        let fd = open("/dev/full", O_WRONLY | O_CLOEXEC)
        try XCTSkipIf(fd < 0, "no /dev/full")
        defer { close(fd) }
        XCTAssertThrowsError(try DurableFile.writeAll(Data(count: 4096), to: fd, path: "/dev/full")) { error in
            let failure = error as? FileError
            XCTAssertEqual(failure?.code, .cannotWrite)
            XCTAssertEqual(failure?.isOutOfSpace, true)
        }
    }

    func testWriteAllDeliversEveryByteThroughAPipeThatTakesThemInPieces() throws {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        let payload = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let reader = ends[0]
        let received = Locked()
        let thread = Thread {
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 7000)
            while true {
                let count = read(reader, &buffer, buffer.count)
                if count <= 0 { break }
                data.append(contentsOf: buffer[..<count])
            }
            received.set(data)
        }
        thread.start()
        try DurableFile.writeAll(payload, to: ends[1], path: "pipe")
        close(ends[1])
        while received.get() == nil { usleep(1000) }
        close(reader)
        XCTAssertEqual(received.get(), payload)
    }

    func testCreateNewIsPrivateAndNeverReplacesWhatIsThere() throws {
        let path = directory.appendingPathComponent("auth.json").path
        try DurableFile.createNew(atPath: path, with: Data("{}".utf8), mode: 0o600)
        XCTAssertEqual(mode(path), 0o600)
        XCTAssertThrowsError(try DurableFile.createNew(atPath: path, with: Data("other".utf8), mode: 0o600)) { error in
            XCTAssertEqual((error as? FileError)?.code, .cannotCreate)
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "{}")
    }
}

/// A value handed from the reader thread.
private final class Locked: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Data?
    func set(_ data: Data) { lock.lock(); value = data; lock.unlock() }
    func get() -> Data? { lock.lock(); defer { lock.unlock() }; return value }
}

final class FileLockTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testASecondExclusiveHolderIsRefusedUntilTheFirstIsGone() throws {
        let path = directory.appendingPathComponent(".env.lock").path
        var first: FileLock? = try FileLock(path: path, exclusive: true, waits: false)
        XCTAssertThrowsError(try FileLock(path: path, exclusive: true, waits: false)) { error in
            XCTAssertEqual((error as? FileError)?.code, .lockHeld)
        }
        XCTAssertThrowsError(try FileLock(path: path, exclusive: false, waits: false))
        XCTAssertNotNil(first)
        first = nil
        XCTAssertNoThrow(try FileLock(path: path, exclusive: true, waits: false))
    }

    func testSharedHoldersShareAndKeepAnExclusiveOneOut() throws {
        let path = directory.appendingPathComponent(".imageprep.lock").path
        let one = try FileLock(path: path, exclusive: false, waits: true)
        let two = try FileLock(path: path, exclusive: false, waits: false)
        XCTAssertThrowsError(try FileLock(path: path, exclusive: true, waits: false))
        withExtendedLifetime((one, two)) {}
    }

    func testALinkOrAFifoWhereTheLockFileGoesIsRefused() throws {
        let target = directory.appendingPathComponent("elsewhere").path
        let link = directory.appendingPathComponent("link.lock").path
        XCTAssertEqual(symlink(target, link), 0)
        XCTAssertThrowsError(try FileLock(path: link, exclusive: true, waits: false)) { error in
            XCTAssertEqual((error as? FileError)?.code, .link)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: target), "nothing is created through the link")
        let fifo = directory.appendingPathComponent("fifo.lock").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try FileLock(path: fifo, exclusive: true, waits: false)) { error in
            XCTAssertEqual((error as? FileError)?.code, .notRegularFile)
        }
    }
}
