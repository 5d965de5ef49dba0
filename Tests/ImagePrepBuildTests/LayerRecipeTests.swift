import Foundation
import ImagePrepArchive
import ImagePrepOCI
import XCTest

@testable import ImagePrepBuild

/// Which Dockerfiles the layer engine takes, and what they do to a base image's config and
/// files (pure logic: a temporary build context, no image).
final class LayerRecipeTests: XCTestCase {
    var context: URL!

    override func setUpWithError() throws {
        context = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-recipe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: context.appendingPathComponent("app/bin"), withIntermediateDirectories: true)
        try Data("#!/bin/sh\n".utf8).write(to: context.appendingPathComponent("app/bin/tool"))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: context.appendingPathComponent("app/bin/tool").path)
        try Data("a: 1\n".utf8).write(to: context.appendingPathComponent("app/config.yaml"))
        try FileManager.default.createSymbolicLink(atPath: context.appendingPathComponent("app/current").path, withDestinationPath: "config.yaml")
        try Data("x\n".utf8).write(to: context.appendingPathComponent("hotfix.conf"))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: context)
    }

    private func ineligible(_ dockerfile: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try LayerRecipe.parse(dockerfile)
            XCTFail("expected the Dockerfile to need buildah", file: file, line: line)
            return ""
        } catch {
            return error.description
        }
    }

    func testParsesInstructionsContinuationsAndQuotes() throws {
        let recipe = try LayerRecipe.parse("""
            # escape is only a directive before the first instruction
            FROM src:1
            LABEL modified_append_tag=-hotfix
            # a comment inside the file
            LABEL "com.example.team"="ops team" single='it''s' plain=yes
            ENV A=1 \\
                B="two words"
            ENV LEGACY value with spaces
            copy ["with space.txt", "/opt/"]
            WORKDIR /opt
            USER 1000:1000
            ENTRYPOINT ["/opt/run.sh", "--flag"]
            CMD echo serving
            """)
        XCTAssertEqual(recipe.steps, [
            .labels([.init("modified_append_tag", "-hotfix")]),
            .labels([.init("com.example.team", "ops team"), .init("single", "its"), .init("plain", "yes")]),
            .env([.init("A", "1"), .init("B", "two words")]),
            .env([.init("LEGACY", "value with spaces")]),
            .copy(.init(sources: ["with space.txt"], destination: "/opt/", instruction: #"COPY ["with space.txt", "/opt/"]"#, line: 9)),
            .workdir("/opt"),
            .user("1000:1000"),
            .entrypoint(.exec(["/opt/run.sh", "--flag"])),
            .cmd(.shell("echo serving")),
        ])
        XCTAssertEqual(recipe.instructions.count, 9)
    }

    func testDockerfilesThatNeedBuildahSayWhichLine() {
        XCTAssertEqual(ineligible("FROM a\nLABEL x=1\nRUN dnf -y update\n"), "line 3: RUN needs buildah")
        XCTAssertEqual(ineligible("FROM a AS build\nCOPY x /x\nFROM b\n"), "line 3: a second FROM (multi-stage builds need buildah)")
        XCTAssertEqual(ineligible("FROM a\nENV P=$PATH:/opt\n"), "line 2: ENV uses '$' (variable expansion needs buildah)")
        XCTAssertEqual(ineligible("FROM a\nCOPY --from=build /x /x\n"), "line 2: COPY --from=build needs buildah")
        XCTAssertEqual(ineligible("FROM a\nCOPY --chown=nova:nova x /x/\n"),
                       "line 2: --chown=nova:nova needs buildah (the directories COPY creates get that owner too)")
        XCTAssertEqual(ineligible("FROM a\nADD https://example.com/x.tgz /x/\n"), "line 2: ADD of a URL needs buildah")
        XCTAssertEqual(ineligible("FROM a\nCOPY *.conf /etc/\n"), "line 2: COPY with a wildcard needs buildah")
        XCTAssertEqual(ineligible("# escape=`\nFROM a\n"), "line 1: the escape parser directive needs buildah")
        XCTAssertEqual(ineligible("FROM a\nHEALTHCHECK CMD true\n"), "line 2: HEALTHCHECK needs buildah")
        XCTAssertEqual(ineligible("LABEL a=b\n"), "line 1: LABEL before FROM")
        XCTAssertEqual(ineligible("FROM a\nLABEL a=\"open\n"), "line 2: LABEL: unterminated quote")
        XCTAssertNoThrow(try LayerRecipe.parse("FROM a\nCOPY --chown=0:0 x /x/\n"))
    }

    func testApplyBuildsSortedEntriesAndConfig() throws {
        let recipe = try LayerRecipe.parse("""
            FROM src
            LABEL modified_append_tag=-hotfix
            ENV MODE=old
            ENV MODE=new EXTRA=1
            COPY app/ /opt/app/
            WORKDIR app
            COPY hotfix.conf ./conf.d/
            COPY --chmod=0600 hotfix.conf /etc/hotfix.conf
            USER nova
            ENTRYPOINT ["/opt/app/bin/tool"]
            """)
        let base = try ImageDocument(
            Data(#"{"architecture":"amd64","config":{"Cmd":["/bin/sh"],"Env":["MODE=base"],"Labels":{"rdo_version":"1"},"WorkingDir":"/opt"},"os":"linux"}"#.utf8),
            what: "config")
        let applied = try recipe.apply(toConfig: base, context: context, mtime: 1_600_000_000)
        XCTAssertEqual(applied.entries.map(\.path), [
            "etc/hotfix.conf", "opt/app/bin", "opt/app/bin/tool", "opt/app/conf.d/hotfix.conf", "opt/app/config.yaml", "opt/app/current",
        ])
        XCTAssertEqual(applied.entries.map(\.mode), [0o600, 0o755, 0o755, 0o644, 0o644, 0o777])
        XCTAssertTrue(applied.entries.allSatisfy { $0.mtime == 1_600_000_000 && $0.uid == 0 && $0.gid == 0 })
        XCTAssertEqual(applied.entries[5].kind, .symlink(target: "config.yaml"))

        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: applied.config.encoded()) as? [String: Any])
        XCTAssertEqual(config["architecture"] as? String, "amd64", "the base's other fields are kept")
        let settings = try XCTUnwrap(config["config"] as? [String: Any])
        XCTAssertEqual(settings["Env"] as? [String], [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "MODE=new", "EXTRA=1",
        ])
        XCTAssertEqual(settings["Labels"] as? [String: String], ["rdo_version": "1", "modified_append_tag": "-hotfix"])
        XCTAssertEqual(settings["WorkingDir"] as? String, "/opt/app")
        XCTAssertEqual(settings["User"] as? String, "nova")
        XCTAssertEqual(settings["Entrypoint"] as? [String], ["/opt/app/bin/tool"])
        XCTAssertNil(settings["Cmd"], "an ENTRYPOINT drops the base's CMD")

        let kept = try recipe.apply(toConfig: base, context: context, mtime: 0, keepSourceMtimes: true)
        XCTAssertTrue(kept.entries.allSatisfy { $0.mtime > 1_600_000_000 }, "the files' own times")
    }

    func testApplyRefusesWhatDependsOnTheBaseAndBadSources() throws {
        let base = try ImageDocument(Data(#"{"config":{}}"#.utf8), what: "config")
        func apply(_ dockerfile: String) throws { _ = try LayerRecipe.parse(dockerfile).apply(toConfig: base, context: context, mtime: 0) }
        func message(_ dockerfile: String) -> String {
            do { try apply(dockerfile); return "no error" } catch { return "\(error)" }
        }

        XCTAssertEqual(message("FROM a\nCOPY hotfix.conf /usr/local/bin\n"),
                       "line 2: COPY hotfix.conf /usr/local/bin: end the destination with '/' or name the file as 'hotfix.conf' (a file copied to another name needs buildah)")
        XCTAssertNoThrow(try apply("FROM a\nCOPY hotfix.conf /etc/app/hotfix.conf\n"))
        XCTAssertEqual(message("FROM a\nCOPY missing.conf /etc/\n"), "line 2: COPY source 'missing.conf' does not exist in \(context.path)")

        try FileManager.default.createSymbolicLink(atPath: context.appendingPathComponent("escape").path, withDestinationPath: "/etc/shadow")
        XCTAssertTrue(message("FROM a\nCOPY escape /etc/\n").contains("leads outside the build context"), message("FROM a\nCOPY escape /etc/\n"))

        let tarball = context.appendingPathComponent("files.tar.gz")
        try Data([0x1f, 0x8b, 0x08, 0x00]).write(to: tarball)
        XCTAssertEqual(message("FROM a\nADD files.tar.gz /opt/\n"), "line 2: ADD of an archive (unpacked into the image) needs buildah")
        XCTAssertNoThrow(try apply("FROM a\nCOPY files.tar.gz /opt/\n"), "COPY does not unpack")

        try Data().write(to: context.appendingPathComponent(".dockerignore"))
        XCTAssertEqual(message("FROM a\nCOPY hotfix.conf /etc/\n"), ".dockerignore needs buildah")
        XCTAssertTrue(message("FROM a\n").contains(".dockerignore"))
    }
}
