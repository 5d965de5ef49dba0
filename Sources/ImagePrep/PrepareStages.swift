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
    /// Whether a real run has registry work: tag discovery, copies or
    /// modifications.
    public var needsRegistry: Bool {
        images.contains { $0.tagFromLabel != nil || $0.pushDestination != nil || $0.modify != nil }
    }

    /// Whether tags or labels must be looked up to know the result
    /// (`tag_from_label`, `modify_only_with_labels`).
    public var needsLookups: Bool {
        images.contains { $0.tagFromLabel != nil || !($0.modify?.onlyWithLabels.isEmpty ?? true) }
    }
}
