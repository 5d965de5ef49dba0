import Foundation
import ImagePrepTestSupport
import XCTest

@testable import ImagePrepBuild

/// Where the binary finds `dockerfiles/` and `hooks/`: an installed prefix
/// (also moved), the override, a development build's source tree, and
/// never the source tree from an installed binary.
final class ProjectFilesTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    private func makeData(at folder: URL) throws {
        for name in ["dockerfiles", "hooks"] {
            try FileManager.default.createDirectory(
                at: folder.appendingPathComponent(name), withIntermediateDirectories: true)
        }
    }

    func testAnInstalledPrefixIsFoundBesideTheBinaryAlsoAfterAMove() throws {
        let prefix = root.appendingPathComponent("prefix")
        try makeData(at: prefix.appendingPathComponent("share/imageprep"))
        try FileManager.default.createDirectory(at: prefix.appendingPathComponent("bin"), withIntermediateDirectories: true)
        let found = try ProjectFiles.dataDirectory(
            environment: [:], executable: prefix.appendingPathComponent("bin/imageprep"))
        XCTAssertEqual(found.standardizedFileURL.path, prefix.appendingPathComponent("share/imageprep").path)

        let moved = root.appendingPathComponent("elsewhere")
        try FileManager.default.moveItem(at: prefix, to: moved)
        let afterMove = try ProjectFiles.dataDirectory(
            environment: [:], executable: moved.appendingPathComponent("bin/imageprep"))
        XCTAssertEqual(afterMove.standardizedFileURL.path, moved.appendingPathComponent("share/imageprep").path)
    }

    func testTheOverrideIsTheOnlyPlaceLookedInWhenSet() throws {
        let prefix = root.appendingPathComponent("prefix")
        try makeData(at: prefix.appendingPathComponent("share/imageprep"))
        let other = root.appendingPathComponent("other")
        try makeData(at: other)
        let executable = prefix.appendingPathComponent("bin/imageprep")
        XCTAssertEqual(
            try ProjectFiles.dataDirectory(environment: ["IMAGEPREP_DATA_DIR": other.path], executable: executable).path,
            other.path)
        // A wrong override is an error naming it, not a silent fallback.
        let empty = root.appendingPathComponent("empty")
        XCTAssertThrowsError(
            try ProjectFiles.dataDirectory(environment: ["IMAGEPREP_DATA_DIR": empty.path], executable: executable)
        ) { error in
            XCTAssertEqual("\(error)", "IMAGEPREP_DATA_DIR=\(empty.path) holds no dockerfiles/ and hooks/")
        }
    }

    func testADevelopmentBuildFindsItsSourceTree() throws {
        let tree = root.appendingPathComponent("src")
        try makeData(at: tree)
        try Data("// swift-tools-version:6.0\n".utf8).write(to: tree.appendingPathComponent("Package.swift"))
        let binary = tree.appendingPathComponent(".build-release/x86_64-unknown-linux-gnu/release/imageprep")
        XCTAssertEqual(try ProjectFiles.dataDirectory(environment: [:], executable: binary).path, tree.path)
    }

    func testAnInstalledBinaryNeverLooksIntoASourceTree() throws {
        // A prefix inside a source tree, not under its .build folder: the tree is not used.
        let tree = root.appendingPathComponent("src")
        try makeData(at: tree)
        try Data("// swift-tools-version:6.0\n".utf8).write(to: tree.appendingPathComponent("Package.swift"))
        let binary = tree.appendingPathComponent("prefix/bin/imageprep")
        XCTAssertThrowsError(try ProjectFiles.dataDirectory(environment: [:], executable: binary)) { error in
            XCTAssertEqual(
                "\(error)",
                "cannot find imageprep's dockerfiles/ and hooks/ (looked in \(tree.path)/prefix/share/imageprep); reinstall imageprep or set IMAGEPREP_DATA_DIR to the folder that holds them"
            )
        }
    }

    func testTheTestBinaryFindsThisTree() throws {
        // The running test bundle is a development build inside this package.
        let found = try ProjectFiles.dataDirectory(environment: [:], executable: ProjectFiles.runningExecutable())
        XCTAssertEqual(found.standardizedFileURL.path, CLI.packageRoot.standardizedFileURL.path)
    }
}
