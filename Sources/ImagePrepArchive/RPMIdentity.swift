/// What names one build of a package: name, epoch, version, release and
/// architecture, for RPM files and for packages installed in an image alike.
public protocol RPMIdentity {
    var name: String { get }
    var version: String { get }
    var release: String { get }
    var arch: String { get }
    /// The epoch, 0 when the package has none (rpm's rule for comparing).
    var epochNumber: Int { get }
    /// The epoch as `rpm -q` prints it: absent when the package has none.
    var epochText: String? { get }
}

extension RPMIdentity {
    /// `name-[epoch:]version-release.arch`, as `rpm -q` prints it.
    public var nevra: String {
        "\(name)-\(epochText.map { "\($0):" } ?? "")\(version)-\(release).\(arch)"
    }
}

/// An RPM installed in an image, as its rpm database lists it.
public struct InstalledPackage: RPMIdentity, Sendable, Equatable, Hashable, Codable {
    public var name: String
    public var epoch: String?
    public var version: String
    public var release: String
    public var arch: String

    public init(name: String, epoch: String?, version: String, release: String, arch: String) {
        self.name = name
        self.epoch = epoch
        self.version = version
        self.release = release
        self.arch = arch
    }

    public var epochNumber: Int { Int(epoch ?? "0") ?? 0 }
    public var epochText: String? { epoch }
}

extension RPMPackage: RPMIdentity {
    public var epochNumber: Int { epoch ?? 0 }
    public var epochText: String? { epoch.map(String.init) }
}
