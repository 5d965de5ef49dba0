import ImagePrepBuild
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// Why a prepare run stopped, naming the file, image or registry involved.
public enum PrepareError: Error, Sendable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case unwritable(path: String, reason: String)
    /// A report (`what`: its file, or `--json`) whose value JSON cannot hold.
    case unencodable(what: String, reason: String)
    case plan(PlanError)
    /// Images that could not be resolved or transferred; the others went on.
    case imagesFailed([ImageFailure])
    /// A bundle (`--from-bundle`) that is not whole or not a bundle.
    case bundle(BundleError)
    /// No layer of the image holds an rpm database.
    case noPackageDatabase(String)
    /// A layer whose rpm database could not be read (`cause`: the registry's, the archive's or
    /// the extraction's error): the image and the layer, never a scratch path.
    case unreadableLayer(image: String, layer: Digest, cause: any Error)
    /// An image name that does not parse.
    case invalidName(OCIError)
    case noSuchImage(String)
    /// A digest given to delete from an image-serve directory, which keeps tags only.
    case imageServeDeletesTags(String)
    /// A locally built image (`containers-storage:`) given to modify.
    case localImageNotModified(String)
    /// A hotfix RPM built for another architecture than the image's.
    case hotfixArchitecture(image: String, rpm: String, rpmArchitecture: String, imageArchitecture: String)
    /// A configuration file (registries.conf) that cannot be used; `line` when the parser
    /// knows it.
    case invalidConfiguration(path: String, line: Int?, reason: String)
    /// Images whose registry registries.conf blocks (`blocked = true`).
    case blockedRegistry(prefix: String, file: String, images: [String])
    /// `image prune` without an env file naming what to keep.
    case pruneKeepsNothing
    /// A `--keep-env` file (of `image prune` or `image delete`) whose image parameters name no
    /// image on the destination.
    case keepEnvironmentNamesNoImage(file: String, registry: String, purpose: String)
    /// `image delete --keep-env`: a kept env file still names the image (by tag or digest), or
    /// names `sibling`, another tag of the same manifest, which a registry deletes with it.
    case deleteKept(String, sibling: String?)
    /// ``ImageOperations/copyLocal(from:to:)`` with neither side in local storage.
    case noLocalSide(source: String, destination: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): cannot read: \(reason)"
        case .unwritable(let path, let reason): return "\(path): cannot write: \(reason)"
        case .unencodable(let what, let reason): return "\(what): cannot encode the report as JSON: \(reason)"
        case .plan(let error): return error.description
        case .bundle(let error): return error.description
        case .noPackageDatabase(let name):
            return "\(name): no rpm database (/var/lib/rpm or /usr/lib/sysimage/rpm) in any layer"
        case .unreadableLayer(let image, let layer, let cause):
            return "\(image): layer \(layer): \(PackageInventory.layerReadReason(cause))"
        case .invalidName(let error): return error.description
        case .noSuchImage(let name): return "\(name): no such image"
        case .imageServeDeletesTags(let name): return "\(name): an image-serve registry deletes tags, not digests"
        case .localImageNotModified(let name):
            return "\(name): a locally built image is not modified (as upstream): build the change into the local image, or modify a registry image"
        case .hotfixArchitecture(let image, let rpm, let rpmArchitecture, let imageArchitecture):
            return "\(image): hotfix \(rpm) is built for \(rpmArchitecture), which cannot be installed in this \(imageArchitecture) image"
        case .invalidConfiguration(let path, let line, let reason):
            return "\(path)\(line.map { ":\($0)" } ?? ""): \(reason)"
        case .blockedRegistry(let prefix, let file, let images):
            let others = images.count > 1 ? " and \(images.count - 1) other image(s)" : ""
            return "registry \(prefix) is blocked in \(file) (blocked = true): not pulling \(images.first ?? prefix)\(others)"
        case .pruneKeepsNothing:
            return "image prune: give the env files whose images to keep (--keep-env FILE...); without them every tag would go"
        case .keepEnvironmentNamesNoImage(let file, let registry, let purpose):
            return "\(file): no image parameter names an image on \(registry): refusing to \(purpose) by it"
        case .noLocalSide(let source, let destination):
            return "\(source) -> \(destination): neither is containers-storage:NAME, so this is a registry copy"
        case .deleteKept(let name, nil):
            return "\(name): a --keep-env file still names it: not deleted"
        case .deleteKept(let name, let sibling?):
            return "\(name): the same manifest as \(sibling), which a --keep-env file still names (a registry deletes a manifest with all its tags): not deleted"
        case .imagesFailed(let failures):
            let lines = failures.map { "  \($0.image): \($0.reason)" }
            return "\(failures.count) image(s) failed; no output file was written:\n" + lines.joined(separator: "\n")
        }
    }
}

extension PrepareError: CausedError {
    var cause: (any Error)? {
        if case .unreadableLayer(_, _, let cause) = self { return cause }
        return nil
    }
}

/// An error that wraps the one that caused it; a failure is classified by the innermost
/// cause the classification knows (``ImageFailure/Kind``).
protocol CausedError: Error {
    var cause: (any Error)? { get }
}

/// Why one image failed; the run goes on with the others and writes no output.
public struct ImageFailure: Error, Sendable, Equatable, Encodable {
    /// What failed, from the error's type.
    public enum Kind: String, Sendable, Encodable {
        /// A registry or the network: an HTTP status, a connection, a digest that did not match.
        case registry
        /// A modification: buildah, the layer engine, local container storage.
        case build
        /// Tag discovery: the label's tag is not in the repository, a bad `tag_from_label`.
        case tagDiscovery = "tag_discovery"
        /// An image-serve directory that could not be written.
        case destination
        case other
    }

    public var image: String
    public var kind: Kind
    public var reason: String

    public init(image: String, kind: Kind, reason: String) {
        self.image = image
        self.kind = kind
        self.reason = reason
    }

    /// The failure `error` means for `image`: its message, and the kind of the error or of
    /// what caused it (a registry error behind the mirrors tried, behind a layer read).
    public init(image: String, error: any Error) {
        let reason = (error as? BuildError)?.detail ?? "\(error)"
        self.init(image: image, kind: Self.kind(of: error), reason: reason)
    }

    static func kind(of error: any Error) -> Kind {
        var current: any Error = error
        for _ in 0..<8 {
            switch current {
            case is BuildError: return .build
            case is TagTemplateError, is TagNotFound: return .tagDiscovery
            case is RegistryError: return .registry
            case is ImageServeError: return .destination
            default: break
            }
            guard let caused = current as? CausedError, let cause = caused.cause else { return .other }
            current = cause
        }
        return .other
    }
}
