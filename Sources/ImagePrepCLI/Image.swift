import ArgumentParser
import Foundation
import ImagePrep
import ImagePrepOCI

extension Imageprep {
    struct Image: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "image",
            abstract: "List, inspect, copy and delete images in registries.",
            subcommands: [List.self, Inspect.self, Copy.self, Delete.self, Packages.self]
        )
    }
}

extension Imageprep.Image {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List a registry's images and tags.")

        @Option(help: ArgumentHelp("The registry, e.g. the undercloud's 192.168.24.1:8787.", valueName: "host[:port]"))
        var registry: String

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func run() async throws {
            let operations = try ImageOperations(options: RegistryOptions(registryOptions))
            let images = try await operations.list(registry: registry)
            if json {
                try printJSON(Dictionary(uniqueKeysWithValues: images.map { ($0.repository, $0.tags) }))
            } else {
                for image in images {
                    // The names are the registry's: one line each, whatever they hold.
                    for tag in image.tags { print("\(registry)/\(image.repository):\(tag)".escapingControlCharacters()) }
                }
            }
        }
    }
}

extension Imageprep.Image {
    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect", abstract: "Show an image's digest, media type, architecture, labels and layers as JSON.")

        @Argument(help: ArgumentHelp("The image, [registry/]path[:tag][@digest].", valueName: "ref"))
        var reference: String

        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func run() async throws {
            let operations = try ImageOperations(options: RegistryOptions(registryOptions))
            try printJSON(try await operations.inspect(reference))
        }
    }
}

extension Imageprep.Image {
    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "copy", abstract: "Copy an image between registries, skipping what the destination has.")

        @Argument(help: ArgumentHelp("Source image.", valueName: "src"))
        var source: String

        @Argument(help: ArgumentHelp("Destination image (with its tag).", valueName: "dst"))
        var destination: String

        @Flag(help: "Copy a manifest list with every platform's image.")
        var allPlatforms = false

        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func run() async throws {
            let operations = try ImageOperations(options: RegistryOptions(registryOptions))
            let report = try await operations.copy(from: source, to: destination, allPlatforms: allPlatforms)
            let mounted = await operations.mountedWord(destination)
            print("\(report.outcome.rawValue) \(destination) \(report.digest) (\(report.blobsCopied) blob(s) copied, \(report.blobsMounted) \(mounted), \(report.blobsPresent) present, \(report.bytesCopied) bytes)")
        }
    }
}

extension Imageprep.Image {
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete an image (its manifest) from a registry.")

        @Argument(help: ArgumentHelp("The image, by tag or digest.", valueName: "ref"))
        var reference: String

        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func run() async throws {
            let operations = try ImageOperations(options: RegistryOptions(registryOptions))
            print("deleted \(reference) (\(try await operations.delete(reference)))")
        }
    }
}

/// Prints `value` as the commands' `--json` output: indented, keys sorted.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

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
