import ArgumentParser
import Foundation
import ImagePrep
import ImagePrepOCI

extension Imageprep {
    struct Hotfix: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hotfix",
            abstract: "Plan where hotfix RPMs belong, and apply them to several images.",
            subcommands: [Plan.self, Apply.self]
        )
    }
}

extension Imageprep.Hotfix {
    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "plan",
            abstract: "Show which images have a package of the hotfix RPMs, and what each would replace.",
            discussion: "An image with none of the packages would not be modified by rpm_install with --only-images-with-packages."
        )

        @Option(help: ArgumentHelp("The directory of hotfix RPMs.", valueName: "dir"))
        var rpmsPath: String

        @Argument(help: ArgumentHelp("Images to check.", valueName: "ref"))
        var images: [String]

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func run() async throws {
            let planner = HotfixPlanner(inventory: try PackageInventory(options: RegistryOptions(registryOptions)))
            var plans: [HotfixPlanner.ImagePlan] = []
            for image in images { plans.append(try await planner.plan(rpmsPath: rpmsPath, image: image)) }
            if json {
                try printJSON(plans)
                return
            }
            for plan in plans {
                print(plan.image)
                if plan.applies {
                    for replacement in plan.replacements { print("  \(replacement.installed) -> \(replacement.replacement)") }
                } else {
                    print("  none of the hotfix packages is installed: not a target")
                }
            }
        }
    }
}
extension Imageprep.Hotfix {
    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "apply",
            abstract: "Install hotfix RPMs into several images, as upstream's image hotfix does.",
            discussion: """
                Each --image gets the RPMs of --rpms-path (rpm_install: the layer engine writes the \
                layer when no RPM has a scriptlet, buildah builds otherwise) and is tagged \
                <tag>-<--tag>. Without --push-destination the results go to local container \
                storage under the image's own name, as upstream keeps them (then `imageprep image \
                copy containers-storage:NAME DST`, or `--local`, pushes them); with it, to that \
                registry or image-serve under the image's path. An image whose result is already \
                there is skipped; one that fails does not stop the others.
                """
        )

        @Option(name: .customLong("image"), help: ArgumentHelp("An image to hotfix (repeatable).", valueName: "ref"))
        var images: [String] = []

        @Option(help: ArgumentHelp("The directory of hotfix RPMs.", valueName: "dir"))
        var rpmsPath: String

        @Option(help: ArgumentHelp("Appended to each image's tag after a '-' (upstream's default: latest).", valueName: "tag"))
        var tag = "latest"

        @Option(help: ArgumentHelp("Push the results here (a registry or image-serve) instead of local storage.", valueName: "host[:port]"))
        var pushDestination: String?

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        @OptionGroup(title: "Modification") var build: BuildOptionGroup

        func validate() throws {
            guard !images.isEmpty else { throw ValidationError("give at least one --image") }
            for image in images {
                do {
                    _ = try Reference(image)
                } catch {
                    throw ValidationError("--image: \(error)")
                }
            }
            try TagSuffixOption.validate(tag, flag: "--tag")
        }

        func run() async throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: rpmsPath, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CommandRefusal("--rpms-path \(rpmsPath): not a directory of RPMs")
            }
            var options = RegistryOptions(registryOptions)
            if let pushDestination, UndercloudRegistry.isUndercloudPort(pushDestination) {
                options.insecureRegistries.append(pushDestination)
            }
            let operations = try ImageOperations(options: options, modification: ModificationOptions(build))
            let results = await operations.hotfix(images: images, rpmsPath: rpmsPath, suffix: tag, pushDestination: pushDestination)
            var failed = 0
            for result in results {
                switch result.outcome {
                case .success(.built(let name, let report)): print("built \(name) (\(ReportText.modification(report)))")
                case .success(.alreadyThere(let name)): print("skipped \(name) (already there)")
                case .success(.notATarget(let source)): print("skipped \(source) (none of the hotfix packages is installed: not modified)")
                case .failure(let error):
                    failed += 1
                    // The errors name their image; one that does not gets it in front.
                    let message = "\(error)".hasPrefix(result.image) ? "\(error)" : "\(result.image): \(error)"
                    FileHandle.standardError.write(Data("failed \(message)\n".escapingControlCharacters(keepingLineBreaks: true).utf8))
                }
            }
            if failed > 0 {
                throw CommandRefusal("\(failed) of \(results.count) image(s) not hotfixed")
            }
        }
    }
}
