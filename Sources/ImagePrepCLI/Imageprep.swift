import ArgumentParser
import Foundation
import ImagePrep
import ImagePrepOCI

@main
struct Imageprep: AsyncParsableCommand {
    /// imageprep's version, defined here only: `--version` prints it and
    /// scripts/package-rpm gives the RPM the version the binary prints.
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "imageprep",
        abstract: "Prepare the container images an OpenStack (TripleO) deployment uses.",
        discussion: """
            imageprep reads a ContainerImagePrepare environment, works out every image the \
            deployment needs, and writes the heat parameters that point the deployment at them.
            """,
        version: version,
        subcommands: [Prepare.self, Modify.self, Image.self, Hotfix.self, RPM.self, BundleCommand.self]
    )

    /// Runs the command line with stable exit codes: 0 success, 1 failure
    /// (one line naming what failed), 2 usage error (with the help hint).
    static func main() async {
        RunCleanup.removeTemporariesOnSignals()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            if code != .success {
                // The library's errors escape what registries sent; escaping every line's
                // control characters here keeps any other text from outside (a build's
                // output, a file's content) from sending terminal escapes.
                let message = fullMessage(for: error)
                if !message.isEmpty {
                    FileHandle.standardError.write(Data((message.escapingControlCharacters(keepingLineBreaks: true) + "\n").utf8))
                }
                Foundation.exit(code.rawValue)
            }
            exit(withError: error)
        }
    }
}
