import Foundation
import ImagePrepTestSupport

extension PrepareRegistryTests {
    /// `--insecure-registry` for both of the fixture's plain-HTTP registries.
    static func insecure(_ fixture: ModificationFixture) -> [String] {
        ["--insecure-registry", fixture.source.address, "--insecure-registry", fixture.destination.address]
    }

    /// One `imageprep prepare` run, made once for the class: keystone copied under the tag
    /// discovered from its `rdo_version` label, nova-compute given an rpm_install hotfix.
    /// Tests check what it wrote, re-run it, or run variants of its environment.
    struct PreparedRun: @unchecked Sendable {
        let fixture: ModificationFixture
        let work: URL
        let rpms: URL
        let env: URL
        let output: URL
        let arguments: [String]
        let first: CLI.Output
        /// The env file the first run writes, which no later run may change.
        let expected: String
        /// The image the first run modified, at the destination.
        let modified: String

        init(fixture: ModificationFixture) throws {
            self.fixture = fixture
            let (source, destination, buildah) = (fixture.source, fixture.destination, fixture.buildah)
            work = try CLI.temporaryDirectory()
            rpms = work.appendingPathComponent("nova-hotfix-pkgs")
            try FileManager.default.createDirectory(at: rpms, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: try RPMFixtures.build().new, toPath: rpms.appendingPathComponent("hotfix.rpm").path)

            let template = work.appendingPathComponent("containers.yaml.j2")
            try """
                container_images_template:
                - imagename: "{{namespace}}/{{name_prefix}}keystone{{name_suffix}}:{{tag}}"
                  image_source: kolla
                  params: [DockerKeystoneImage]
                  services: [OS::TripleO::Services::Keystone]
                - imagename: "{{namespace}}/{{name_prefix}}nova-compute{{name_suffix}}:{{tag}}"
                  image_source: kolla
                  params: [DockerNovaComputeImage]
                  services: [OS::TripleO::Services::NovaCompute]
                """.write(to: template, atomically: true, encoding: .utf8)
            env = work.appendingPathComponent("containers-prepare-parameter.yaml")
            try """
                parameter_defaults:
                  DockerInsecureRegistryAddress: [\(source.address), \(destination.address)]
                  ContainerImagePrepare:
                  - push_destination: \(destination.address)
                    tag_from_label: rdo_version
                    excludes: [nova-compute]
                    set: {namespace: \(source.address)/tripleomaster, name_prefix: centos-binary-, tag: current-tripleo}
                  - push_destination: \(destination.address)
                    tag_from_label: rdo_version
                    includes: [nova-compute]
                    set: {namespace: \(source.address)/tripleomaster, name_prefix: centos-binary-, tag: current-tripleo}
                    modify_role: tripleo-modify-image
                    modify_append_tag: -hotfix
                    modify_vars:
                      tasks_from: rpm_install.yml
                      rpms_path: \(rpms.path)
                """.write(to: env, atomically: true, encoding: .utf8)
            output = work.appendingPathComponent("images-env.yaml")
            arguments = [
                "prepare", "-e", env.path, "--template-file", template.path, "--output-env-file", output.path,
                "--storage-driver", "vfs", "--isolation", "chroot", "--buildah-root", buildah.root, "--buildah-runroot", buildah.runRoot,
                "--work-dir", work.path, "--cache-dir", work.appendingPathComponent("cache").path,
            ]
            // The source is insecure too, but no parameter names it: only the destination is listed.
            expected = """
                parameter_defaults:
                  DockerKeystoneImage: \(destination.address)/tripleomaster/centos-binary-keystone:1.0-test
                  DockerNovaComputeImage: \(destination.address)/tripleomaster/centos-binary-nova-compute:1.0-test-hotfix
                  DockerInsecureRegistryAddress:
                  - \(destination.address)

                """
            modified = "\(destination.address)/tripleomaster/centos-binary-nova-compute:1.0-test-hotfix"
            first = try CLI.run(arguments)
        }

        /// The env file as it is now.
        func written() throws -> String { try String(contentsOf: output, encoding: .utf8) }

        /// Runs prepare on a copy of the environment with these replacements.
        func runVariant(_ name: String, _ replacements: [(String, String)]) throws -> CLI.Output {
            var text = try String(contentsOf: env, encoding: .utf8)
            for (old, new) in replacements { text = text.replacingOccurrences(of: old, with: new) }
            let variant = work.appendingPathComponent(name)
            try text.write(to: variant, atomically: true, encoding: .utf8)
            var variantArguments = arguments
            variantArguments[2] = variant.path
            return try CLI.run(variantArguments)
        }
    }

    /// Two images at `hotfixes/` on the destination, made once for the class: nova-compute
    /// modified by `imageprep modify` (hotfix 1.0 installed, tag `current-hf1`), and keystone
    /// copied as it is. The hotfix commands' tests target them with hotfix 1.1.
    struct HotfixImages: @unchecked Sendable {
        let fixture: ModificationFixture
        let work: URL
        let insecure: [String]
        let modifyArguments: [String]
        /// `imageprep modify`'s run that made `novaCompute`.
        let modified: CLI.Output
        /// `imageprep image copy`'s run that made `keystone`.
        let keystoneCopied: CLI.Output
        let novaCompute: String
        let keystone: String
        /// A directory holding hotfix 1.1 (an upgrade of the 1.0 in `novaCompute`).
        let fixes: URL
        let rpms: RPMFixtures.Built

        init(fixture: ModificationFixture) throws {
            self.fixture = fixture
            let (source, destination, buildah) = (fixture.source, fixture.destination, fixture.buildah)
            work = try CLI.temporaryDirectory()
            insecure = PrepareRegistryTests.insecure(fixture)
            rpms = try RPMFixtures.build()
            let old = work.appendingPathComponent("rpms")
            try FileManager.default.createDirectory(at: old, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: rpms.old, toPath: old.appendingPathComponent("hotfix.rpm").path)
            fixes = work.appendingPathComponent("fixes")
            try FileManager.default.createDirectory(at: fixes, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: rpms.new, toPath: fixes.appendingPathComponent("hotfix.rpm").path)

            modifyArguments = [
                "modify", "\(source.address)/tripleomaster/centos-binary-nova-compute:current-tripleo",
                "\(destination.address)/hotfixes/nova-compute:current", "--tasks-from", "rpm_install", "--rpms-path", old.path,
                "--append-tag", "-hf1", "--storage-driver", "vfs", "--isolation", "chroot", "--buildah-root", buildah.root,
                "--buildah-runroot", buildah.runRoot, "--work-dir", work.path,
            ] + insecure
            novaCompute = "\(destination.address)/hotfixes/nova-compute:current-hf1"
            modified = try CLI.run(modifyArguments)
            keystone = "\(destination.address)/hotfixes/keystone:current-hf1"
            keystoneCopied = try CLI.run(
                ["image", "copy", "\(source.address)/tripleomaster/centos-binary-keystone:current-tripleo", keystone] + insecure)
        }
    }
}
