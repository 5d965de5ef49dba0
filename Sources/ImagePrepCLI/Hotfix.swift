import ArgumentParser
import ImagePrep

extension Imageprep {
    struct Hotfix: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hotfix",
            abstract: "Plan where hotfix RPMs belong.",
            subcommands: [Plan.self]
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
