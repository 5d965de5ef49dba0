import Foundation
import XCTest
import ImagePrepTestSupport

/// `imageprep prepare` and `prepare default` end to end, through the built
/// binary. Every run here is a dry run or needs no registry: no network.
final class PrepareCommandTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    private func read(_ name: String) throws -> String { try String(contentsOfFile: path(name), encoding: .utf8) }

    static let seedDefault = """
        parameter_defaults:
          ContainerImagePrepare:
          - set:
              ceph_image: daemon
              ceph_namespace: docker.io/ceph
              ceph_tag: v3.0.3-stable-3.0-luminous-centos-7-x86_64
              name_prefix: centos-binary-
              name_suffix: ''
              namespace: docker.io/tripleomaster
              neutron_driver: null
              tag: current-tripleo
            tag_from_label: rdo_version

        """

    func testPrepareDefaultPrintsTheSeedsDocument() throws {
        let result = try CLI.run(["prepare", "default"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, Self.seedDefault)
    }

    func testPrepareDefaultWithLocalPushDestinationAndLoginWritesAFileThatPrepareReads() throws {
        let result = try CLI.run([
            "prepare", "default", "--local-push-destination", "--enable-registry-login", "--output-env-file", path("cpp.yaml"),
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "")
        let expected = Self.seedDefault
            .replacingOccurrences(of: "  - set:\n", with: "  - push_destination: true\n    set:\n")
            + "  ContainerImageRegistryLogin: true\n"
        XCTAssertEqual(try read("cpp.yaml"), expected)

        let prepare = try CLI.run(["prepare", "-e", path("cpp.yaml"), "--dry-run", "--output-env-file", path("out.yaml")])
        XCTAssertEqual(prepare.status, 0, prepare.stderr)
        let out = try read("out.yaml")
        XCTAssertTrue(out.hasPrefix("parameter_defaults:\n  DockerAodhApiImage: "), out)
        XCTAssertTrue(out.contains("  DockerNovaApiImage: "), out)
        XCTAssertTrue(out.contains("/tripleomaster/centos-binary-nova-api:current-tripleo\n"), out)
        XCTAssertTrue(out.contains("  DockerInsecureRegistryAddress:\n  - "), out)
    }

    func testASecondRunWritingTheSameOutputFailsClearlyAndLeavesTheFileAlone() throws {
        XCTAssertEqual(try CLI.run(["prepare", "default", "--output-env-file", path("cpp.yaml")]).status, 0)
        XCTAssertEqual(try CLI.run(["prepare", "-e", path("cpp.yaml"), "--dry-run", "--output-env-file", path("out.yaml")]).status, 0)
        let before = try read("out.yaml")
        // Another run holds the output's lock.
        let lock = open(path(".out.yaml.lock"), O_RDWR | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(lock, 0)
        XCTAssertEqual(flock(lock, LOCK_EX | LOCK_NB), 0)

        let second = try CLI.run(["prepare", "-e", path("cpp.yaml"), "--dry-run", "--catalog", "master", "--output-env-file", path("out.yaml")])
        close(lock)

        XCTAssertEqual(second.status, 1)
        XCTAssertEqual(second.stderr, "Error: \(path("out.yaml")): cannot write: another imageprep run is writing it (lock \(path(".out.yaml.lock")) is held)\n")
        XCTAssertEqual(try read("out.yaml"), before, "the file is left as the first run wrote it")
        let third = try CLI.run(["prepare", "-e", path("cpp.yaml"), "--dry-run", "--catalog", "master", "--output-env-file", path("out.yaml")])
        XCTAssertEqual(third.status, 0, third.stderr)
        XCTAssertNotEqual(try read("out.yaml"), before)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [])
    }

    func testOutputsAndTheirLocksAreNeverOpenedThroughPlantedLinks() throws {
        XCTAssertEqual(try CLI.run(["prepare", "default", "--output-env-file", path("cpp.yaml")]).status, 0)
        let victim = path("victim")
        try "precious\n".write(toFile: victim, atomically: true, encoding: .utf8)
        let dryRun = ["prepare", "-e", path("cpp.yaml"), "--dry-run", "--output-env-file", path("out.yaml")]

        // A link where the lock goes: refused, naming it; nothing is created through it.
        XCTAssertEqual(symlink(path("created-through-the-lock"), path(".out.yaml.lock")), 0)
        let linkedLock = try CLI.run(dryRun)
        XCTAssertEqual(linkedLock.status, 1)
        XCTAssertEqual(
            linkedLock.stderr,
            "Error: \(path("out.yaml")): cannot write: the lock \(path(".out.yaml.lock")) is a symbolic link; remove it\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("created-through-the-lock")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.yaml")))
        unlink(path(".out.yaml.lock"))

        // Links planted under every temporary name a run's PID predicts (the next PIDs), and
        // a dead run's temporary: the victim is never written, the output is.
        let last = Int(try String(contentsOfFile: "/proc/sys/kernel/ns_last_pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        for pid in last + 1...last + 400 {
            XCTAssertEqual(symlink(victim, path(".out.yaml.\(pid).tmp")), 0)
        }
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let stale = path(".out.yaml.imageprep-\(dead.processIdentifier)-00000000000000aa.tmp")
        try "half-written".write(toFile: stale, atomically: false, encoding: .utf8)

        let result = try CLI.run(dryRun)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try read("victim"), "precious\n")
        XCTAssertTrue(try read("out.yaml").hasPrefix("parameter_defaults:\n"))
        var info = stat()
        XCTAssertEqual(lstat(path(".out.yaml.lock"), &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFREG)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "a dead run's temporary is removed by its PID")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains("imageprep-") }
        XCTAssertEqual(leftovers, [])
    }

    func testDryRunOfTheSeedsPushDestinationExampleWritesTheWholeEnvFile() throws {
        let result = try CLI.run([
            "prepare", "-e", CLI.fixture("layering.yaml"), "--template-file", CLI.fixture("small_containers.yaml.j2"),
            "--dry-run", "--output-env-file", path("env.yaml"), "--output-images-file", path("images.yaml"),
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try read("env.yaml"), try String(contentsOfFile: CLI.fixture("layering.expected.yaml"), encoding: .utf8))
        XCTAssertEqual(try read("images.yaml"), try String(contentsOfFile: CLI.fixture("layering.images.expected.yaml"), encoding: .utf8))
        // The readable plan: one row per image and a summary.
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertTrue(lines[0].hasPrefix("ENTRY  IMAGE"), result.stdout)
        XCTAssertEqual(lines.filter { $0.hasPrefix("0 ") || $0.hasPrefix("1 ") }.count, 4)
        XCTAssertTrue(result.stdout.contains("4 image(s) from 2 entries, 5 heat parameter(s), pushed to 192.168.24.1:8787."))
        XCTAssertTrue(result.stdout.contains("Dry run: no registry was contacted"))
    }

    func testDryRunOfTheBuiltInCatalogGivesTheSeedsParameters() throws {
        let env = try write("cip.yaml", """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: 192.168.24.1:8787
                set:
                  namespace: docker.io/tripleomaster
                  name_prefix: centos-binary-
                  name_suffix: ''
                  tag: current-tripleo
            """)
        let result = try CLI.run(["prepare", "-e", env, "--dry-run", "--output-env-file", path("env.yaml")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let out = try read("env.yaml")
        XCTAssertTrue(out.contains("\n  DockerNeutronMetadataImage: 192.168.24.1:8787/tripleomaster/centos-binary-neutron-metadata-agent:current-tripleo\n"))
        XCTAssertTrue(out.contains("\n  DockerNovaApiImage: 192.168.24.1:8787/tripleomaster/centos-binary-nova-api:current-tripleo\n"))
        let master = try CLI.run(["prepare", "-e", env, "--dry-run", "--catalog", "master", "--output-env-file", path("master.yaml")])
        XCTAssertEqual(master.status, 0, master.stderr)
        XCTAssertTrue(try read("master.yaml").contains("\n  ContainerNovaApiImage: 192.168.24.1:8787/tripleomaster/centos-binary-nova-api:current-tripleo\n"))
    }

    func testJSONPlanIsMachineReadableAndHasNoPasswords() throws {
        let env = try write("cip.yaml", """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: 127.0.0.1:8787
                includes: ['nova-compute:']
                modify_role: tripleo-modify-image
                modify_append_tag: -hotfix
                modify_vars: {tasks_from: rpm_install.yml, rpms_path: \(directory.path)}
              ContainerImageRegistryCredentials:
                docker.io: {operator: pa55w0rd-secret}
            """)
        let result = try CLI.run(["prepare", "-e", env, "--dry-run", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stdout.contains("pa55w0rd-secret"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["dry_run"] as? Bool, true)
        let parameters = try XCTUnwrap(json["parameters"] as? [String: String])
        XCTAssertEqual(parameters["DockerNovaComputeImage"], "127.0.0.1:8787/tripleomaster/centos-binary-nova-compute:current-tripleo-hotfix")
        let images = try XCTUnwrap(json["images"] as? [[String: Any]])
        XCTAssertEqual(images.count, 1)
        let image = try XCTUnwrap(images[0]["image"] as? [String: Any])
        let modify = try XCTUnwrap(image["modify"] as? [String: Any])
        XCTAssertEqual((modify["modify_vars"] as? [String: Any])?["rpms_path"] as? String, directory.path)
        let registry = try XCTUnwrap((json["plan"] as? [String: Any])?["registry"] as? [String: Any])
        XCTAssertEqual(registry["credentials"] as? [String: String], ["docker.io": "operator"])
    }

    func testRolesFileAndEnvironmentDirectoryNarrowAndMerge() throws {
        let envDir = directory.appendingPathComponent("environments")
        try FileManager.default.createDirectory(at: envDir, withIntermediateDirectories: true)
        try "parameter_defaults: {ComputeCount: 0}\n".write(to: envDir.appendingPathComponent("10-counts.yaml"), atomically: true, encoding: .utf8)
        try "not: yaml: [".write(to: envDir.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let env = try write("cip.yaml", "parameter_defaults:\n  ContainerImagePrepare:\n  - set: {tag: t1}\n")
        let result = try CLI.run([
            "prepare", "-e", env, "--environment-directory", envDir.path, "--roles-file", CLI.fixture("roles_data.yaml"),
            "--dry-run", "--output-env-file", path("env.yaml"),
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try read("env.yaml"), """
            parameter_defaults:
              DockerKeystoneConfigImage: docker.io/tripleomaster/centos-binary-keystone:t1
              DockerKeystoneImage: docker.io/tripleomaster/centos-binary-keystone:t1
              DockerNovaApiImage: docker.io/tripleomaster/centos-binary-nova-api:t1
              DockerNovaConfigImage: docker.io/tripleomaster/centos-binary-nova-api:t1
              DockerNovaMetadataConfigImage: docker.io/tripleomaster/centos-binary-nova-api:t1
              DockerNovaMetadataImage: docker.io/tripleomaster/centos-binary-nova-api:t1

            """)
    }

    func testARunThatNeedsNoRegistryWritesTheEnvToStandardOutput() throws {
        let env = try write("cip.yaml", "parameter_defaults:\n  ContainerImagePrepare:\n  - includes: ['binary-keystone:']\n")
        let result = try CLI.run(["prepare", "-e", env])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, """
            parameter_defaults:
              DockerKeystoneConfigImage: docker.io/tripleomaster/centos-binary-keystone:current-tripleo
              DockerKeystoneImage: docker.io/tripleomaster/centos-binary-keystone:current-tripleo

            """)
    }

    // MARK: - Bad input

    private func assertFails(
        _ arguments: [String], status: Int32 = 1, message: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let old = "parameter_defaults: {old: true}\n"
        try old.write(toFile: path("out.yaml"), atomically: true, encoding: .utf8)
        let result = try CLI.run(arguments + ["--output-env-file", path("out.yaml")])
        XCTAssertEqual(result.status, status, result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.contains(message), "stderr was: \(result.stderr)", file: file, line: line)
        XCTAssertFalse(result.stderr.contains("Fatal error"), file: file, line: line)
        XCTAssertEqual(try read("out.yaml"), old, "the old output file must stay as it was", file: file, line: line)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [], file: file, line: line)
    }

    func testMissingEnvironmentFileIsOneClearLine() throws {
        try assertFails(["prepare", "-e", path("nope.yaml"), "--dry-run"], message: "Error: \(path("nope.yaml")): cannot read: no such file\n")
    }

    func testMalformedYAMLNamesTheFileAndLine() throws {
        let env = try write("bad.yaml", "parameter_defaults:\n  ContainerImagePrepare:\n  - set: {tag: [unclosed\n")
        try assertFails(["prepare", "-e", env, "--dry-run"], message: "Error: \(env):")
        let result = try CLI.run(["prepare", "-e", env, "--dry-run"])
        XCTAssertTrue(result.stderr.contains("malformed YAML"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
    }

    func testWrongTypesAndBadRegexNameTheKey() throws {
        let notList = try write("a.yaml", "parameter_defaults:\n  ContainerImagePrepare: {set: {}}\n")
        try assertFails(["prepare", "-e", notList, "--dry-run"], message: "\(notList): ContainerImagePrepare: expected a list of entries, found a mapping")
        let notMap = try write("b.yaml", "parameter_defaults:\n  ContainerImagePrepare: [just-a-string]\n")
        try assertFails(["prepare", "-e", notMap, "--dry-run"], message: "\(notMap): ContainerImagePrepare[0]: expected a mapping, found a string")
        let regex = try write("c.yaml", "parameter_defaults:\n  ContainerImagePrepare: [{includes: ['nova-[api']}]\n")
        try assertFails(["prepare", "-e", regex, "--dry-run"], message: "\(regex): ContainerImagePrepare[0].includes[0]: 'nova-[api' is not a valid regular expression (unterminated character set)")
        let tag = try write("d.yaml", "parameter_defaults:\n  ContainerImagePrepare: [{tag_from_label: [a]}]\n")
        try assertFails(["prepare", "-e", tag, "--dry-run"], message: "\(tag): ContainerImagePrepare[0].tag_from_label: expected a string, found a list")
    }

    func testTemplateSyntaxErrorNamesTheLine() throws {
        let template = try write("t.yaml.j2", "container_images_template:\n{% if neutron_driver == 'ovn' %}\n- imagename: x\n")
        let env = try write("e.yaml", "parameter_defaults: {}\n")
        try assertFails(
            ["prepare", "-e", env, "--template-file", template, "--dry-run"],
            message: "\(template):2: '{% if %}' is never closed: expected '{% endif %}'")
    }

    func testUsageErrorsExitTwoWithTheHelpHint() throws {
        let result = try CLI.run(["prepare", "--dry-run"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("give at least one environment file"), result.stderr)
        XCTAssertTrue(result.stderr.contains("--help"), result.stderr)
        let unknown = try CLI.run(["prepare", "-e", "x.yaml", "--no-such-flag"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("--no-such-flag"), unknown.stderr)
    }
}
