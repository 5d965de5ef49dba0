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
        let installed = try await inventory.packages(of: image)
        let architecture = try await inventory.architecture(of: image)
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
        let config = try await client.fetchImageConfig(of: image, in: reference)
        switch config.architecture ?? "amd64" {
        case "amd64": return "x86_64"
        case "arm64": return "aarch64"
        case "386": return "i686"
        case let other: return other
        }
    }
}
