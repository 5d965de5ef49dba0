import ArgumentParser
import Foundation
import ImagePrep

extension Imageprep {
    struct BundleCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bundle",
            abstract: "Write images into an offline OCI layout bundle and load one into a registry or image-serve.",
            subcommands: [Create.self, Load.self]
        )
    }
}

extension Imageprep.BundleCommand {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Write images into an OCI image layout directory (each named by its full source reference).")

        @Argument(help: ArgumentHelp("The source images, registry/path:tag.", valueName: "ref"))
        var images: [String]

        @Option(help: ArgumentHelp("The bundle directory (created).", valueName: "dir"))
        var output: String

        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func run() async throws {
            let operations = try ImageOperations(options: RegistryOptions(registryOptions))
            let report = try await operations.bundleCreate(images, output: URL(fileURLWithPath: output))
            print("bundle \(output): \(report.images) image(s), \(report.blobsWritten) blob(s) written (\(report.bytesWritten) bytes), \(report.blobsShared) shared")
        }
    }

    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "load", abstract: "Check a bundle's blobs and place every image at a registry, keeping repository and tag.")

        @Argument(help: ArgumentHelp("The bundle directory.", valueName: "dir"))
        var bundle: String

        @Option(help: ArgumentHelp("The destination registry (the image-serve one writes into --image-serve-dir).", valueName: "host[:port]"))
        var to: String

        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func run() async throws {
            let operations = try ImageOperations(options: RegistryOptions(registryOptions))
            for (reference, report) in try await operations.bundleLoad(URL(fileURLWithPath: bundle), registry: to) {
                print("loaded \(reference) \(report.digest) (\(report.blobs.copied) blob(s) copied, \(report.blobs.mounted) mounted, \(report.blobs.present) present)")
            }
        }
    }
}
