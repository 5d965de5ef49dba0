import Foundation
import ImagePrepArchive
import ImagePrepOCI
import ImagePrepRegistry

/// Which images a directory of hotfix RPMs belongs in: those that already
/// have a package of the same name. Reports, per image, the installed NEVRA
/// and the one that replaces it.
public struct HotfixPlanner: Sendable {
    public struct Replacement: Sendable, Equatable, Encodable {
        public var installed: String
        public var replacement: String
    }

    public struct ImagePlan: Sendable, Equatable, Encodable {
        public var image: String
        public var architecture: String
        public var replacements: [Replacement]
        /// Whether any hotfix package is installed in the image.
        public var applies: Bool { !replacements.isEmpty }
    }

    let inventory: PackageInventory

    public init(inventory: PackageInventory) {
        self.inventory = inventory
    }

    public func plan(rpmsPath: String, image: String) async throws -> ImagePlan {
        let rpms = try RPMDirectory(path: rpmsPath, key: "--rpms-path").packages
        return try Self.plan(
            rpms, image: image, installed: try await inventory.packages(of: image),
            architecture: try await inventory.architecture(of: image))
    }

    /// The plan for an image the resolve stage read: its manifest and config are not asked
    /// for again.
    public func plan(rpmsPath: String, image: SourceImage) async throws -> ImagePlan {
        let rpms = try RPMDirectory(path: rpmsPath, key: "--rpms-path").packages
        return try Self.plan(
            rpms, image: image.reference.description, installed: try await inventory.packages(of: image),
            architecture: PackageInventory.rpmArchitecture(image.config))
    }

    private static func plan(
        _ rpms: [(file: String, package: RPMPackage)], image: String, installed: [InstalledPackage], architecture: String
    ) throws -> ImagePlan {
        var replacements: [Replacement] = []
        for (file, rpm) in rpms {
            let matching = installed.filter { $0.name == rpm.name }
            guard !matching.isEmpty else { continue }
            guard rpm.arch == "noarch" || rpm.arch == architecture else {
                throw PrepareError.hotfixArchitecture(
                    image: image, rpm: file, rpmArchitecture: rpm.arch, imageArchitecture: architecture)
            }
            for package in matching {
                replacements.append(Replacement(installed: package.nevra, replacement: rpm.nevra))
            }
        }
        return ImagePlan(image: image, architecture: architecture, replacements: replacements)
    }
}

extension PackageInventory {
    /// The image's architecture as RPM names it (x86_64, aarch64, ...).
    public func architecture(of name: String) async throws -> String {
        let (reference, image) = try await resolve(name)
        return Self.rpmArchitecture(try await client.fetchImageConfig(of: image, in: reference))
    }

    /// The architecture of an image with `config`, as RPM names it.
    static func rpmArchitecture(_ config: ImageConfig) -> String {
        switch config.architecture ?? "amd64" {
        case "amd64": return "x86_64"
        case "arm64": return "aarch64"
        case "386": return "i686"
        case let other: return other
        }
    }
}
