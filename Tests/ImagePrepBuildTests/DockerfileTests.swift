import Foundation
import ImagePrepPlan
import ImagePrepTestSupport
import XCTest

@testable import ImagePrepBuild

final class DockerfileTests: XCTestCase {
    override class func tearDown() {
        RPMFixtures.remove()
    }

    func testFirstFromIsRewrittenAndLabelFollowsIt() throws {
        let original = """
            # comment
            FROM docker.io/tripleomaster/centos-binary-nova-compute:latest

            USER root
            COPY customize.sh /tmp/
            RUN /tmp/customize.sh
            USER "nova"
            """
        XCTAssertEqual(try DockerfileRewriter.modified(original, sourceImage: "127.0.0.1:5000/ns/nova:t", appendTag: "-hotfix"), """
            # comment
            FROM 127.0.0.1:5000/ns/nova:t
            LABEL modified_append_tag=-hotfix

            USER root
            COPY customize.sh /tmp/
            RUN /tmp/customize.sh
            USER "nova"
            """)
    }

    func testLinesOfTheModifiedDockerfileMapBackToTheOperatorsLines() throws {
        let original = "# comment\nFROM base\nCOPY a /a/\nRUN make\n"
        let modified = try DockerfileRewriter.modified(original, sourceImage: "src:1", appendTag: "-x")
        XCTAssertEqual(modified.split(separator: "\n")[4], "RUN make")
        XCTAssertEqual(DockerfileRewriter.originalLine(5, in: original), 4)
        XCTAssertEqual(DockerfileRewriter.originalLine(4, in: original), 3)
        XCTAssertEqual(DockerfileRewriter.originalLine(2, in: original), 2)
    }

    func testMultiStageRewritesTheLastFromKeepingFlagsAndStageNameAndLeavesEarlierStages() throws {
        // As the role's lineinfile: the last FROM is the source image, the LABEL follows it.
        let original = "FROM --platform=linux/amd64 builder:1 AS build\nRUN make\nFROM --platform=linux/amd64 base AS final\nCOPY --from=build /out /out\n"
        XCTAssertEqual(
            try DockerfileRewriter.modified(original, sourceImage: "src:1", appendTag: "-x"),
            "FROM --platform=linux/amd64 builder:1 AS build\nRUN make\nFROM --platform=linux/amd64 src:1 AS final\nLABEL modified_append_tag=-x\nCOPY --from=build /out /out\n")
        // Lines after the inserted LABEL map back one up; those before it are unchanged.
        XCTAssertEqual(DockerfileRewriter.originalLine(2, in: original), 2)
        XCTAssertEqual(DockerfileRewriter.originalLine(5, in: original), 4)
        // The layer engine leaves a multi-stage Dockerfile to buildah.
        XCTAssertThrowsError(try LayerRecipe.parse(original))
    }

    func testTheRewriteAndTheLayerEngineReadTheSameInstructions() throws {
        // A continuation line that starts with "FROM" is part of the RUN before it, not a
        // stage: the rewrite leaves it, and the recipe sees one FROM.
        let original = "FROM base:1\nRUN echo \\\nFROM-looking text\nLABEL a=b\n"
        XCTAssertEqual(
            try DockerfileRewriter.modified(original, sourceImage: "src:1", appendTag: "-x"),
            "FROM src:1\nLABEL modified_append_tag=-x\nRUN echo \\\nFROM-looking text\nLABEL a=b\n")
        let text = DockerfileText(original)
        XCTAssertEqual(text.instructions.map(\.keyword), ["FROM", "RUN", "LABEL"])
        XCTAssertEqual(text.instructions.map(\.line), [1, 2, 4])
        XCTAssertEqual(text.instructions[1].lastLine, 3)
        // An escape directive sets the continuation character as buildah reads it; the layer
        // engine leaves such a Dockerfile to buildah, naming the directive's line.
        let backtick = "# escape=`\nFROM base:1\nLABEL a=b `\n  c=d\n"
        let escaped = DockerfileText(backtick)
        XCTAssertEqual(escaped.escapeDirectiveLine, 1)
        XCTAssertEqual(escaped.instructions.map(\.keyword), ["FROM", "LABEL"])
        XCTAssertEqual(escaped.instructions.last?.arguments, "a=b   c=d")
        XCTAssertThrowsError(try LayerRecipe.parse(backtick)) { error in
            XCTAssertEqual((error as? LayerRecipe.Ineligible)?.line, 1)
        }
    }

    func testNoFromIsAnError() {
        XCTAssertThrowsError(try DockerfileRewriter.modified("RUN true\n", sourceImage: "s", appendTag: "-x"))
    }

    func testRPMInstallContextHasTheRPMsTheHookAndTheDockerfile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-ctx-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let rpms = directory.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: rpms, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try RPMFixtures.build().old, toPath: rpms.appendingPathComponent("a-1-1.noarch.rpm").path)
        try Data("x".utf8).write(to: rpms.appendingPathComponent("notes.txt"))
        let context = try BuildContext.write(
            task: .rpmInstall(rpmsPath: rpms.path), sourceImage: "127.0.0.1:5000/ns/img:t", appendTag: "-hotfix",
            originalUser: "nova", into: directory.appendingPathComponent("ctx"))
        XCTAssertEqual(try String(contentsOf: context.dockerfile, encoding: .utf8), """
            FROM 127.0.0.1:5000/ns/img:t
            LABEL modified_append_tag=-hotfix
            WORKDIR /
            USER root
            COPY rpms/ /tmp/imageprep/rpms/
            COPY hooks/rpm_install.sh /tmp/imageprep/rpm_install.sh
            RUN /bin/sh /tmp/imageprep/rpm_install.sh /tmp/imageprep/rpms && rm -rf /tmp/imageprep
            USER nova

            """)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("ctx/rpms").path), ["a-1-1.noarch.rpm"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("ctx/hooks/rpm_install.sh").path))
    }

    func testMissingOrEmptyRPMDirectoryIsAnErrorNamingIt() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        XCTAssertThrowsError(try BuildContext.write(
            task: .rpmInstall(rpmsPath: empty.path), sourceImage: "s", appendTag: "-x", originalUser: "", into: empty.appendingPathComponent("c"))
        ) { error in
            XCTAssertEqual("\(error)", "rpms_path \(empty.path) has no *.rpm files")
        }
        XCTAssertThrowsError(try BuildContext.write(
            task: .rpmInstall(rpmsPath: "/nonexistent/rpms"), sourceImage: "s", appendTag: "-x", originalUser: "", into: empty.appendingPathComponent("d"))
        ) { error in
            XCTAssertEqual("\(error)", "rpms_path /nonexistent/rpms is not a directory")
        }
    }

    func testDevInstallRefspecsNeedANetworkThisMachineLacks() {
        XCTAssertThrowsError(try BuildContext.write(
            task: .devInstall(pythonDirectories: [], refspecs: [.init(project: "heat", refspec: "refs/changes/12/1234/3")]),
            sourceImage: "s", appendTag: "-x", originalUser: "", into: FileManager.default.temporaryDirectory.appendingPathComponent("d-\(UUID())"))
        ) { error in
            XCTAssertTrue("\(error)".hasPrefix("dev_install refspecs (heat refs/changes/12/1234/3) need the project's git server"), "\(error)")
        }
    }

    /// Finding 9 of issue 12: the task's values go to files the hook reads line by line;
    /// Dockerfile.modified holds none of them, and the image's user must be a plain name.
    func testYumValuesReachTheHookAsFilesAndAHostileUserIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ctx-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let packages = ["a;b", "$(touch /pwned)", "`id`", #"it's "quoted""#]
        let install = try BuildContext.write(
            task: .yumInstall(packages: packages, reposDirectory: nil), sourceImage: "127.0.0.1:5000/ns/nova@sha256:" + String(repeating: "a", count: 64),
            appendTag: "-x", originalUser: "nova:nova", into: directory.appendingPathComponent("install"))
        XCTAssertEqual(try String(contentsOf: install.dockerfile, encoding: .utf8), """
            FROM 127.0.0.1:5000/ns/nova@sha256:\(String(repeating: "a", count: 64))
            LABEL modified_append_tag=-x
            WORKDIR /
            USER root
            COPY inputs/ /tmp/imageprep/
            COPY hooks/yum_install.sh /tmp/imageprep/yum_install.sh
            RUN /bin/sh /tmp/imageprep/yum_install.sh /tmp/imageprep && rm -rf /tmp/imageprep
            USER nova:nova

            """)
        XCTAssertEqual(
            try String(contentsOf: install.directory.appendingPathComponent("inputs/yum-packages"), encoding: .utf8),
            packages.map { $0 + "\n" }.joined())

        var update = ModifyTask.YumUpdate()
        update.updateRepos = ["hotfix", "x$(id)"]
        let cache = directory.appendingPathComponent("dnf cache").path
        update.cacheDirectory = cache
        let updated = try BuildContext.write(
            task: .yumUpdate(update), sourceImage: "src:1", appendTag: "-x", originalUser: "",
            into: directory.appendingPathComponent("update"))
        let dockerfile = try String(contentsOf: updated.dockerfile, encoding: .utf8)
        XCTAssertTrue(dockerfile.contains("RUN /bin/sh /tmp/imageprep/yum_update.sh /tmp/imageprep && rm -rf /tmp/imageprep\n"), dockerfile)
        XCTAssertFalse(dockerfile.contains("x$(id)"), dockerfile)
        XCTAssertEqual(
            try String(contentsOf: updated.directory.appendingPathComponent("inputs/update-repos"), encoding: .utf8), "hotfix\nx$(id)\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: updated.directory.appendingPathComponent("inputs/keep-cache").path))
        // Mounted SELinux-relabelled as the role mounts a cache it fills; made when missing.
        XCTAssertEqual(updated.volumes, ["\(cache):/var/cache/dnf:rw,z"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: cache))

        for user in ["nova\nRUN touch /pwned", "$HOME", "nova group", "a:b:c"] {
            XCTAssertThrowsError(try BuildContext.write(
                task: .yumInstall(packages: ["x"], reposDirectory: nil), sourceImage: "src:1", appendTag: "-x", originalUser: user,
                into: directory.appendingPathComponent("user"))) { error in
                XCTAssertTrue("\(error)".hasPrefix("the image's configured user '"), "\(error)")
                XCTAssertFalse("\(error)".contains("\n"), "one line: \(error)")
            }
        }
    }
}
