import ArgumentParser
import Foundation
import ImagePrep
import ImagePrepPlan

extension Imageprep {
    struct Modify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "modify",
            abstract: "Modify one image as tripleo-modify-image does and push it.",
            discussion: """
                Applies the task to SOURCE_REF and pushes the result to TARGET_REF plus the append \
                tag: the layer engine writes the new layer itself when nothing has to run in the \
                image (a modify_image Dockerfile without RUN, hotfix RPMs without scriptlets), \
                buildah builds otherwise; --engine ansible runs the upstream tripleo-modify-image role itself. Nothing is built when that tag is already at the destination. The \
                role's other variables are given with --var KEY=VALUE (e.g. --var compare_host_packages=true).
                """
        )

        @Argument(help: ArgumentHelp("The image to modify.", valueName: "source-ref"))
        var source: String

        @Argument(help: ArgumentHelp("Where the modified image goes (the append tag is added to its tag).", valueName: "target-ref"))
        var target: String

        @Option(help: ArgumentHelp("The task: modify_image, rpm_install, yum_update, yum_install or dev_install (required for tripleo-modify-image).", valueName: "task"))
        var tasksFrom: String?

        @Option(help: ArgumentHelp("The role: tripleo-modify-image (built in), or an Ansible role of your own, run with ansible-playbook as upstream runs it (see --roles-path).", valueName: "role"))
        var modifyRole: String = Planner.modifyRole

        @Option(help: ArgumentHelp("rpm_install: the directory of RPMs to install.", valueName: "dir"))
        var rpmsPath: String?

        @Option(help: ArgumentHelp("modify_image: the directory with the Dockerfile.", valueName: "dir"))
        var modifyDirPath: String?

        // Append tags start with '-': take the next word whatever it looks like.
        @Option(parsing: .unconditional, help: ArgumentHelp("Appended to the target's tag (default -modified-YYYYmmddHHMMSS, UTC).", valueName: "tag"))
        var appendTag: String?

        @Option(name: .customLong("var"), help: ArgumentHelp("Another role variable (repeatable).", valueName: "key=value"))
        var vars: [String] = []

        @OptionGroup(title: "Registries") var registry: RegistryOptionGroup

        @OptionGroup(title: "Modification") var build: BuildOptionGroup

        func validate() throws {
            if tasksFrom == nil, Planner.isBuiltInRole(modifyRole) {
                throw ValidationError("--tasks-from is required for \(modifyRole)")
            }
            if let appendTag { try TagSuffixOption.validate(appendTag, flag: "--append-tag") }
            for item in vars where !item.contains("=") {
                throw ValidationError("--var expects KEY=VALUE, got '\(item)'")
            }
        }

        func run() async throws {
            var entries = tasksFrom.map { [ConfigEntry("tasks_from", .string($0))] } ?? []
            if let rpmsPath { entries.append(ConfigEntry("rpms_path", .string(rpmsPath))) }
            if let modifyDirPath { entries.append(ConfigEntry("modify_dir_path", .string(modifyDirPath))) }
            for item in vars {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                let value = parts.count > 1 ? parts[1] : ""
                // The value as YAML would read it: true/false, numbers, lists.
                entries.append(ConfigEntry(parts[0], (try? ConfigDocument.parse(value, file: "--var")) ?? .string(value)))
            }
            if Planner.isBuiltInRole(modifyRole) {
                for key in ModifyTask.unknownVariables(entries) {
                    FileHandle.standardError.write(Data("Warning: --var \(key) is not a variable of tripleo-modify-image: it is ignored\n".utf8))
                }
            }
            let operations = try ImageOperations(options: RegistryOptions(registry), modification: ModificationOptions(build))
            let result = try await operations.modify(
                source: source, target: target, vars: entries, appendTag: appendTag ?? Planner.defaultAppendTag(Date()),
                role: modifyRole)
            switch result {
            case .built(let name, let report): print("built \(name) (\(ReportText.modification(report)))")
            case .alreadyThere(let name): print("skipped \(name) (already there)")
            case .notATarget(let source): print("skipped \(source) (none of the hotfix packages is installed: not modified)")
            }
        }
    }
}
