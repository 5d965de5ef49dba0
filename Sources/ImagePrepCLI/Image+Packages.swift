import ArgumentParser
import Foundation
import ImagePrep
import ImagePrepArchive
import ImagePrepOCI
import ImagePrepPlan

extension Imageprep.Image {
    struct Packages: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "packages",
            abstract: "List the RPMs installed in an image.",
            discussion: "Streams the image's layers from the top until one holds the rpm database, extracts only that, and reads it with the host's rpm."
        )

        @Argument(help: ArgumentHelp("The image.", valueName: "ref"))
        var reference: String

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func run() async throws {
            let inventory = try PackageInventory(options: RegistryOptions(registryOptions))
            let packages = try await inventory.packages(of: reference)
            if json {
                try printJSON(packages)
            } else {
                for package in packages { print(package.nevra) }
            }
        }
    }
}
