import ArgumentParser
import Foundation
import ImagePrep
import ImagePrepOCI
import ImagePrepRegistry

extension Imageprep {
    struct BundleCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bundle",
            abstract: "Write images into an offline OCI layout bundle and load one into a registry or image-serve.",
            discussion: """
                On a connected host, 'bundle create -e ENV --output DIR' writes every image a prepare of \
                ENV copies; on the disconnected undercloud, 'bundle load DIR --to HOST:PORT' places them. \
                A bundle is an OCI image layout (skopeo reads it as oci:DIR:REFERENCE); --output FILE.tar \
                writes it as one tar file (oci-archive:FILE.tar:REFERENCE).
                """,
            subcommands: [Create.self, Load.self]
        )
    }
}

extension Imageprep.BundleCommand {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Write images into an OCI image layout bundle, each named by its full source reference.",
            discussion: """
                With -e, the images are those a prepare of the environment copies or modifies, with their tags \
                looked up as 'prepare --dry-run --discover' does; an image whose tag_from_label gives another tag \
                is named by both. Blobs shared by several images are stored once. One platform's image each \
                (linux/amd64).
                """)

        @Argument(help: ArgumentHelp("Source images, registry/path:tag (instead of -e).", valueName: "ref"))
        var images: [String] = []

        @OptionGroup var input: PrepareInputOptionGroup

        @Option(help: ArgumentHelp("The bundle: a directory (created), or a single tar file when it ends in .tar.", valueName: "dir|file.tar"))
        var output: String

        @OptionGroup(title: "Credentials") var credentialOptions: CredentialOptionGroup
        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func validate() throws {
            if input.isGiven == !images.isEmpty {
                throw ValidationError("give either images (registry/path:tag) or -e FILE, not both")
            }
        }

        func run() async throws {
            let output = URL(fileURLWithPath: self.output)
            let report: BundleReport
            if images.isEmpty {
                var options = PrepareOptions(input)
                options.registry = RegistryOptions(registryOptions, reaching: [], credentials: credentialOptions)
                report = try await PrepareWorkflow(options: options).bundle(output: output)
            } else {
                let operations = try ImageOperations(
                    options: RegistryOptions(registryOptions, reaching: images, credentials: credentialOptions))
                report = try await operations.bundleCreate(images, output: output)
            }
            for image in report.images {
                print("bundled \(image.reference) \(image.digest)".escapingControlCharacters())
            }
            print("bundle \(self.output): \(report.images.count) image(s), \(report.blobsWritten) blob(s) written (\(report.bytesWritten) bytes), \(report.blobsShared) shared")
        }
    }

    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "load",
            abstract: "Check a bundle's blobs and place every image at a registry or image-serve, keeping repository and tag.",
            discussion: """
                Every blob of every image is checked (present, its size and digest) before anything is placed; \
                a damaged bundle is refused naming the blob's file. Images are placed as copies are: blobs a \
                destination has are skipped, each file renamed into place whole.
                """)

        @Argument(help: ArgumentHelp("The bundle: a layout directory or a tar file.", valueName: "dir|file.tar"))
        var bundle: String

        @Option(help: ArgumentHelp("The destination registry (the image-serve one writes into --image-serve-dir).", valueName: "host[:port]"))
        var to: String

        @OptionGroup(title: "Credentials") var credentialOptions: CredentialOptionGroup
        @OptionGroup(title: "Registries") var registryOptions: RegistryOptionGroup

        func run() async throws {
            let operations = try ImageOperations(options: RegistryOptions(registryOptions, reaching: [to], credentials: credentialOptions))
            let loaded = try await operations.bundleLoad(URL(fileURLWithPath: bundle), registry: to)
            let mounted = ReportText.mountedWord(await operations.destinationKind(to + "/bundle/image"))
            for (reference, report) in loaded {
                print("loaded \(reference) \(report.digest) (\(report.blobs.copied) blob(s) copied, \(report.blobs.mounted) \(mounted), \(report.blobs.present) present)"
                    .escapingControlCharacters())
            }
        }
    }
}
