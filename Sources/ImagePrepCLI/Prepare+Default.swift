import ArgumentParser
import ImagePrep

extension Imageprep.Prepare {
    struct Default: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "default",
            abstract: "Write the default ContainerImagePrepare environment.",
            discussion: "The file it writes is valid input for 'imageprep prepare -e'."
        )

        @Flag(help: "Copy images to the undercloud registry (push_destination: true).")
        var localPushDestination = false

        @Flag(help: "Log in to registries during deployment (ContainerImageRegistryLogin: true).")
        var enableRegistryLogin = false

        @Option(help: ArgumentHelp("Write the environment to this file instead of standard output.", valueName: "file"))
        var outputEnvFile: String?

        @OptionGroup var catalogOption: CatalogOption

        func run() async throws {
            let text = PrepareWorkflow.defaultDocument(
                catalog: catalogOption.chosen.catalog, localPushDestination: localPushDestination,
                registryLogin: enableRegistryLogin)
            if let outputEnvFile {
                try PrepareWorkflow.write(text, to: outputEnvFile)
            } else {
                print(text, terminator: "")
            }
        }
    }
}
