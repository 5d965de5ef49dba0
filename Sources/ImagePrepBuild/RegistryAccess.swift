/// What buildah needs to reach registries as the run does: the run's logins in a
/// containers auth file (`--authfile`) and the private CA in a certificate directory
/// (`--cert-dir`, holding `*.crt` files). Both are files: credentials never go on a command
/// line.
public struct RegistryAccess: Sendable, Equatable {
    public var authFile: String?
    public var certDirectory: String?

    public init(authFile: String? = nil, certDirectory: String? = nil) {
        self.authFile = authFile
        self.certDirectory = certDirectory
    }

    /// The options of `buildah pull` and `buildah bud`.
    var arguments: [String] {
        var arguments: [String] = []
        if let authFile { arguments += ["--authfile", authFile] }
        if let certDirectory { arguments += ["--cert-dir", certDirectory] }
        return arguments
    }
}
