import ArgumentParser
import Foundation
import ImagePrep
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

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
                let mounted = ReportText.mountedWord(await operations.destinationKind(destination))
                print("\(report.outcome.rawValue) \(destination) \(report.digest) (\(report.blobsCopied) blob(s) copied, \(report.blobsMounted) \(mounted), \(report.blobsPresent) present, \(report.bytesCopied) bytes)")
                return
            }
            let report = try await operations.copyLocal(from: source, to: destination)
            let blobs = report.blobs
            if let digest = report.digest {
                let mounted = ReportText.mountedWord(await operations.destinationKind(destination))
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
