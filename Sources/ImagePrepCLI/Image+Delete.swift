import ArgumentParser
import Foundation
import ImagePrep
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

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
