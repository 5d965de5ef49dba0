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

extension Imageprep.Image {
    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "copy", abstract: "Copy an image between registries and local container storage, skipping what the destination has.",
            discussion: """
                Either end may be containers-storage:NAME, the local storage buildah and podman use: a \
                local image is pushed as prepare pushes locally built ones, and an image copied into \
                local storage is loaded by buildah under NAME. Without DST, as upstream's image push, \
                the image goes to --registry-url (default: the undercloud's registry) under its own path.
                """)

        @Argument(help: ArgumentHelp("Source image ([registry/]path[:tag], or containers-storage:NAME).", valueName: "src"))
        var source: String

        @Argument(help: ArgumentHelp("Destination image with its tag, or containers-storage:NAME (default: SRC's path at --registry-url).", valueName: "dst"))
        var destination: String?

        @Option(name: [.customLong("registry-url")],
                help: ArgumentHelp("Without DST: the registry to push to (default: the undercloud's).", valueName: "host[:port]"))
        var registryURL: String?

        @Flag(help: "The source is in local container storage (as if given as containers-storage:SRC), as upstream's image push --local.")
        var local = false

        @Flag(help: "With a local source: remove it from local storage once pushed, as upstream's image push --cleanup.")
        var cleanup = false

        @Flag(help: "Copy a manifest list with every platform's image.")
        var allPlatforms = false

        @Option(help: ArgumentHelp("Append this to the destination's tag, as upstream's image push --append-tag.", valueName: "suffix"))
        var appendTag: String?

        @OptionGroup(title: "Destination credentials") var credentialOptions: CredentialOptionGroup

        @Option(help: ArgumentHelp("Username for the source registry.", valueName: "user"))
        var sourceUsername: String?

        @Option(help: ArgumentHelp("Password for the source registry (other users can read process arguments).", valueName: "password"))
        var sourcePassword: String?

        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        @OptionGroup(title: "Local container storage") var storage: LocalStorageOptionGroup

        func validate() throws {
            guard (sourceUsername == nil) == (sourcePassword == nil) else {
                throw ValidationError("--source-username and --source-password go together")
            }
            if let appendTag { try TagSuffixOption.validate(appendTag, flag: "--append-tag") }
            if destination != nil, registryURL != nil {
                throw ValidationError("give DST or --registry-url, not both")
            }
        }

        func run() async throws {
            let source = local && !ImageName.isLocal(self.source) ? ImageName.containersStoragePrefix + self.source : self.source
            var destination = try self.destination ?? Self.destination(of: source, at: registryURL ?? UndercloudRegistry.address())
            if let appendTag {
                destination = try Self.appending(appendTag, to: destination)
            }
            var options = RegistryOptions(
                registryOptions, reaching: ImageName.isLocal(destination) ? [] : [destination], credentials: credentialOptions)
            if !ImageName.isLocal(source) {
                let sourceRegistry = RegistryOptions.registry(of: source)
                if UndercloudRegistry.isUndercloudPort(sourceRegistry) { options.insecureRegistries.append(sourceRegistry) }
                if let sourceUsername, let sourcePassword {
                    FileHandle.standardError.write(Data(CredentialOptionGroup.warning.utf8))
                    options.credentials[sourceRegistry] = (sourceUsername, sourcePassword)
                }
            } else if sourceUsername != nil {
                FileHandle.standardError.write(Data("warning: source credentials are ignored for a local image\n".utf8))
            }
            var modification = ModificationOptions()
            modification.buildah = storage.buildah
            let operations = try ImageOperations(options: options, modification: modification)
            guard ImageName.isLocal(source) || ImageName.isLocal(destination) else {
                let report = try await operations.copy(from: source, to: destination, allPlatforms: allPlatforms)
                let mounted = await operations.mountedWord(destination)
                print("\(report.outcome.rawValue) \(destination) \(report.digest) (\(report.blobsCopied) blob(s) copied, \(report.blobsMounted) \(mounted), \(report.blobsPresent) present, \(report.bytesCopied) bytes)")
                return
            }
            let report = try await operations.copyLocal(from: source, to: destination)
            let blobs = report.blobs
            if let digest = report.digest {
                let mounted = await operations.mountedWord(destination)
                print("copied \(destination) \(digest) (from local image \(report.imageID.prefix(12)); \(blobs.copied) blob(s) copied, \(blobs.mounted) \(mounted), \(blobs.present) present, \(blobs.bytesCopied) bytes)")
            } else if ImageName.isLocal(source) {
                print("tagged \(destination) (local image \(report.imageID.prefix(12)))")
            } else {
                print("copied \(destination) (local image \(report.imageID.prefix(12)); \(blobs.copied) blob(s) copied, \(blobs.bytesCopied) bytes)")
            }
            if cleanup, ImageName.isLocal(source), !ImageName.isLocal(destination) {
                try await operations.removeLocal(source)
                print("removed \(source) from local storage")
            }
        }

        /// Upstream's image push without a destination: the source's path (namespace/name:tag)
        /// at `registry`.
        static func destination(of source: String, at registry: String) throws -> String {
            var reference = try Reference(ImageName.withoutStoragePrefix(source))
            reference.registry = registry
            reference.tag = reference.tag ?? "latest"
            return reference.description
        }

        /// `destination` with `suffix` after its tag (`latest` when it names none).
        static func appending(_ suffix: String, to destination: String) throws -> String {
            if ImageName.isLocal(destination) {
                return ImageName.containersStoragePrefix + (try appending(suffix, to: ImageName.withoutStoragePrefix(destination)))
            }
            return try TagSuffixOption.appending(suffix, to: destination, flag: "--append-tag").description
        }
    }
}

extension Imageprep.Image {
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete", abstract: "Delete an image (its manifest) from a registry.",
            discussion: "On a terminal it asks first, as upstream's image delete does, unless -y.")

        @Argument(help: ArgumentHelp("The image, by tag or digest.", valueName: "ref"))
        var reference: String

        @Flag(name: [.short, .long], help: "Do not ask for confirmation.")
        var yes = false

        @Option(parsing: .upToNextOption, help: ArgumentHelp("Refuse when one of these env files' image parameters still names the image.", valueName: "file"))
        var keepEnv: [String] = []

        @OptionGroup(title: "Credentials") var credentialOptions: CredentialOptionGroup
        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func run() async throws {
            let operations = try ImageOperations(
                options: RegistryOptions(registryOptions, reaching: [reference], credentials: credentialOptions))
            if !yes, Terminal.isInteractive {
                guard Terminal.confirm("Delete \(reference.escapingControlCharacters()) from its registry [y/N]? ") else {
                    throw CommandRefusal("not confirmed: nothing was deleted (-y deletes without asking)")
                }
            }
            print("deleted \(reference) (\(try await operations.delete(reference, keepEnvironments: keepEnv)))")
        }
    }
}

extension Imageprep.Image {
    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Remove every tag of a destination that no given env file's image parameters name, then what no remaining tag needs.",
            discussion: """
                Keeps the tags the heat image parameters of each --keep-env file name on this registry \
                and, with --keep-last N, the N newest tags of each repository besides (newest: the \
                latest image config `created`). At an image-serve registry the directory is pruned \
                under the run lock prepare takes: type maps, tags lists and the catalog first, then \
                manifests, then blobs no remaining manifest references, so httpd serving meanwhile \
                gives a whole image or a 404. At a registry with a push API each removed tag's \
                manifest is deleted by digest; its blobs are left to the registry's garbage collection.
                """
        )

        @Option(help: ArgumentHelp("The destination, e.g. the undercloud's 192.168.24.1:8787.", valueName: "host[:port]"))
        var registry: String

        @Option(parsing: .upToNextOption, help: ArgumentHelp("Env files (an earlier prepare's --output-env-file) whose images to keep.", valueName: "file"))
        var keepEnv: [String] = []

        @Option(help: ArgumentHelp("Also keep the N newest tags of each repository.", valueName: "N"))
        var keepLast = 0

        @Flag(help: "Print what would be removed, and the bytes, removing nothing.")
        var dryRun = false

        @OptionGroup(title: "Credentials") var credentialOptions: CredentialOptionGroup
        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func validate() throws {
            guard keepLast >= 0 else { throw ValidationError("--keep-last must be 0 or more, not \(keepLast)") }
        }

        func run() async throws {
            let operations = try ImageOperations(
                options: RegistryOptions(registryOptions, reaching: [registry], credentials: credentialOptions))
            let report = try await operations.prune(registry: registry, keepEnvironments: keepEnv, keepLast: keepLast, dryRun: dryRun)
            let verb = dryRun ? "would remove" : "removed"
            for removal in report.removals {
                let name = removal.kind == .tag ? "\(registry)/\(removal.repository):\(removal.name)" : "\(removal.repository) \(removal.name)"
                print("\(verb) \(removal.kind.rawValue) \(name)\(removal.bytes > 0 ? " (\(removal.bytes) bytes)" : "")".escapingControlCharacters())
            }
            let tags = report.removals.filter { $0.kind == .tag }.count
            if let directory = report.imageServeDirectory {
                print("\(verb) \(tags) tag(s), \(report.removals.count - tags) manifest(s) and blob(s) from \(directory); \(report.kept) tag(s) kept; \(report.bytesFreed) bytes \(dryRun ? "would be " : "")freed")
            } else {
                print("\(verb) \(tags) tag(s) (manifests deleted by digest); \(report.kept) tag(s) kept; blobs are left to \(registry)'s garbage collection (registry garbage-collect), 0 bytes freed now")
            }
        }
    }
}

/// Prints `value` as the commands' `--json` output: indented, keys sorted. A value that
/// cannot be encoded is one error line, and nothing is printed.
func printJSON<T: Encodable>(_ value: T) throws {
    print(String(decoding: try JSONReport.encode(value, what: "--json"), as: UTF8.self))
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
