import ArgumentParser
import Foundation
import ImagePrep
import ImagePrepOCI
import ImagePrepPlan

extension Imageprep {
    struct Image: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "image",
            abstract: "List, inspect, copy, delete and prune images in registries.",
            subcommands: [List.self, Inspect.self, Copy.self, Delete.self, Prune.self, Packages.self]
        )
    }
}

extension Imageprep.Image {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List a registry's images and tags.",
            discussion: "Without --registry, the undercloud's registry: <short hostname>.ctlplane from the hosts file, else localhost, on port 8787, as upstream's image list.")

        @Option(name: [.customLong("registry"), .customLong("registry-url")],
                help: ArgumentHelp("The registry, e.g. the undercloud's 192.168.24.1:8787 (default: the undercloud's).", valueName: "host[:port]"))
        var registry: String?

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup(title: "Credentials") var credentialOptions: CredentialOptionGroup
        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func run() async throws {
            let registry = self.registry ?? UndercloudRegistry.address()
            let operations = try ImageOperations(
                options: RegistryOptions(registryOptions, reaching: [registry], credentials: credentialOptions))
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
            commandName: "inspect", abstract: "Show an image's digest, media type, architecture, labels and layers as JSON.",
            discussion: "--format tripleo prints the keys upstream's `openstack tripleo container image show` prints (Name, then the others sorted).")

        @Argument(help: ArgumentHelp("The image, [registry/]path[:tag][@digest].", valueName: "ref"))
        var reference: String

        @Option(help: "Output: json (imageprep's fields) or tripleo (upstream's show keys).")
        var format: InspectFormat = .json

        @OptionGroup(title: "Credentials") var credentialOptions: CredentialOptionGroup
        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func run() async throws {
            let operations = try ImageOperations(
                options: RegistryOptions(registryOptions, reaching: [reference], credentials: credentialOptions))
            let inspection = try await operations.inspect(reference)
            switch format {
            case .json: try printJSON(inspection)
            case .tripleo: print(TripleoInspection(inspection).json)
            }
        }
    }

    enum InspectFormat: String, ExpressibleByArgument, CaseIterable {
        case json, tripleo
    }
}
