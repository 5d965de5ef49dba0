import ImagePrepPlan

/// The resolve stage: discovers each image's versioned tag from its labels
/// (`tag_from_label`) and settles label-dependent modifications.
public protocol ImageResolver: Sendable {
    func resolve(_ plan: PreparePlan) async -> [Result<ResolvedImage, ImageFailure>]
}

/// The transfer stage: copies (and modifies) resolved images to their push
/// destinations.
public protocol ImageTransfer: Sendable {
    func transfer(_ images: [ResolvedImage], plan: PreparePlan) async -> TransferOutcome
}

public struct TransferOutcome: Sendable, Equatable {
    public var failures: [ImageFailure]
    /// Registries reached over plain HTTP or unverified TLS.
    public var insecureRegistries: [String]
    /// One line per image or a summary, for the operator.
    public var report: [String]
    /// Package changes of modified images, when asked for.
    public var packageChanges: [PackageChanges] = []

    public init(failures: [ImageFailure] = [], insecureRegistries: [String] = [], report: [String] = []) {
        self.failures = failures
        self.insecureRegistries = insecureRegistries
        self.report = report
    }
}

extension PreparePlan {
    /// What this plan needs a registry for; empty when it needs none.
    public var registryWork: [String] {
        var work: [String] = []
        let discovering = images.filter { $0.tagFromLabel != nil }.count
        if discovering > 0 { work.append("tag discovery (tag_from_label) for \(discovering) image(s)") }
        let pushing = images.filter { $0.pushDestination != nil }.count
        if pushing > 0 { work.append("copying \(pushing) image(s) to \(pushDestinations.joined(separator: ", "))") }
        let modifying = images.filter { $0.modify != nil }.count
        if modifying > 0 { work.append("modifying \(modifying) image(s)") }
        return work
    }
}
