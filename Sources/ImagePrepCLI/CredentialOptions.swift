import ArgumentParser
import Foundation
import ImagePrep
import ImagePrepOCI

/// `--username`/`--password`, as upstream's image commands take them: for the registry the
/// command reaches. Process arguments are visible to every user of the host, so giving a
/// password this way warns and points at the private ways.
struct CredentialOptionGroup: ParsableArguments {
    @Option(help: ArgumentHelp("Username for the registry (as upstream's image commands).", valueName: "user"))
    var username: String?

    @Option(help: ArgumentHelp("Password for the registry. Other users can read process arguments: prefer ContainerImageRegistryCredentials or an auth file (--authfile).", valueName: "password"))
    var password: String?

    func validate() throws {
        guard (username == nil) == (password == nil) else {
            throw ValidationError("--username and --password go together")
        }
    }

    /// `registry: (user, password)` for each of `registries`, warning once on standard error.
    func credentials(for registries: [String]) -> [String: (user: String, password: String)] {
        guard let username, let password else { return [:] }
        FileHandle.standardError.write(Data(Self.warning.utf8))
        return Dictionary(registries.map { ($0, (username, password)) }) { first, _ in first }
    }

    static let warning = "warning: --password is visible to other users of this host in the process list; "
        + "put the credentials in ContainerImageRegistryCredentials or an auth file (--authfile) instead\n"
}

/// A command that declined to act: one line, exit status 1.
struct CommandRefusal: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The controlling terminal, for the questions upstream's commands ask.
enum Terminal {
    /// Standard input and error are both a terminal: someone can answer.
    static var isInteractive: Bool { isatty(STDIN_FILENO) != 0 && isatty(STDERR_FILENO) != 0 }

    /// Asks `question` on standard error; true for an answer of y or yes.
    static func confirm(_ question: String) -> Bool {
        FileHandle.standardError.write(Data(question.utf8))
        guard let answer = readLine(strippingNewline: true) else { return false }
        return ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased())
    }
}

extension RegistryOptions {
    /// The options for a command that reaches `names` (registries or image references): a
    /// registry on the undercloud's port 8787 is reached insecurely, as for push destinations;
    /// `credentials` apply to the registries named.
    init(_ registry: RegistryOptionGroup, reaching names: [String], credentials: CredentialOptionGroup) {
        self.init(registry)
        let registries = names.map(Self.registry(of:))
        insecureRegistries += registries.filter(UndercloudRegistry.isUndercloudPort)
        self.credentials = credentials.credentials(for: registries)
    }

    /// The registry of an image reference, or the text itself when it names a registry.
    static func registry(of name: String) -> String {
        guard name.contains("/"), let reference = try? Reference(name) else { return name }
        return reference.registry
    }
}
