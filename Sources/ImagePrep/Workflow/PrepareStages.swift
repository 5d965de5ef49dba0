import ImagePrepConcurrency
import Foundation
import ImagePrepPlan
import ImagePrepRegistry

/// The resolve stage: discovers an image's versioned tag from its labels
/// (`tag_from_label`) and settles label-dependent modifications.
public protocol ImageResolver: Sendable {
    func resolve(_ image: PlannedImage) async -> Result<ImageResolution, ImageFailure>
}

/// The transfer stage: copies or modifies resolved images at their push destinations.
public protocol ImageTransfer: Sendable {
    /// Copies one image; `progress` gets the bytes of its blobs as they stream in.
    func copy(_ image: ImageResolution, progress: ByteProgress) async -> ImageOutcome
    func modify(_ image: ImageResolution) async -> ImageOutcome
    /// Writes what the transfers left for the end of the run (an image-serve directory's
    /// catalog), after the last one and before ``notes()``.
    func finishWriting() async throws
    /// What the transfers showed about the registries reached, once they are done.
    func notes() async -> TransferNotes
}

/// What the transfers showed about the registries reached.
public struct TransferNotes: Sendable, Equatable {
    /// Registries reached over plain HTTP or unverified TLS.
    public var insecureRegistries: [String] = []
    /// Registries reached over verified TLS: a push destination among them is not listed in
    /// `DockerInsecureRegistryAddress`.
    public var verifiedRegistries: [String] = []
    /// Destinations without a push API whose images were written as files.
    public var imageServeRegistries: [String] = []
    /// Where those files are.
    public var imageServeDirectory: String = ""

    public init(
        insecureRegistries: [String] = [], verifiedRegistries: [String] = [], imageServeRegistries: [String] = [],
        imageServeDirectory: String = ""
    ) {
        self.insecureRegistries = insecureRegistries
        self.verifiedRegistries = verifiedRegistries
        self.imageServeRegistries = imageServeRegistries
        self.imageServeDirectory = imageServeDirectory
    }
}

/// What the stages of a run produced, in plan order.
public struct StageResults: Sendable {
    /// Every image that resolved, in plan order.
    public var resolutions: [ImageResolution] = []
    /// The transfers: copies in plan order, then modifications in plan order.
    public var results: [ImageResult] = []
    /// Images that failed to resolve or transfer.
    public var failures: [ImageFailure] = []
    public var notes = TransferNotes()
    public var summary = TransferSummary()
}

/// Runs the resolve and transfer stages over a plan with at most `concurrency` images at
/// once, reporting progress as values. Copies run before modifications, whose base layers
/// can then be mounted from the copied repositories.
public struct PrepareStages<Resolver: ImageResolver, Transfer: ImageTransfer>: Sendable {
    public var resolver: Resolver
    public var transfer: Transfer
    public var concurrency: Int

    public init(resolver: Resolver, transfer: Transfer, concurrency: Int) {
        self.resolver = resolver
        self.transfer = transfer
        self.concurrency = max(1, concurrency)
    }

    /// Resolves every image (a dry run with `--discover`).
    public func resolve(_ plan: PreparePlan) async -> (resolutions: [ImageResolution], failures: [ImageFailure]) {
        let resolver = self.resolver
        var resolutions: [ImageResolution] = []
        var failures: [ImageFailure] = []
        for result in await BoundedMap.map(plan.images, limit: concurrency, { await resolver.resolve($0) }) {
            switch result {
            case .success(let resolution): resolutions.append(resolution)
            case .failure(let failure): failures.append(failure)
            }
        }
        return (resolutions, failures)
    }

    /// Resolves and transfers every image of the plan. An image is copied as soon as it is
    /// resolved, while others are still being resolved; modifications follow the copies.
    /// Results keep the plan's order whatever the order of completion.
    public func run(_ plan: PreparePlan, progress: @escaping @Sendable (ProgressEvent) -> Void) async -> StageResults {
        let clock = ContinuousClock()
        let start = clock.now
        // Every image that may be copied or modified; resolving settles which are.
        let candidates = plan.images.filter(\.mayTransfer).count
        let planned = Locked(candidates)
        progress(.planned(images: candidates))
        let (resolver, transfer) = (self.resolver, self.transfer)
        let first = await BoundedMap.map(plan.images, limit: concurrency) { image -> (Result<ImageResolution, ImageFailure>, ImageResult?) in
            let resolved = await resolver.resolve(image)
            switch resolved {
            case .success(let resolution) where resolution.work == .copy:
                return (resolved, await Self.transfer(resolution, progress: progress) { await transfer.copy(resolution, progress: $0) })
            case .success(let resolution) where resolution.work == .none && image.mayTransfer:
                // A modification its labels ruled out, and no push destination.
                progress(.planned(images: planned.withLock { $0 -= 1; return $0 }))
                return (resolved, nil)
            case .failure(let failure) where image.mayTransfer:
                // Done, for the display's count.
                let result = ImageResult(
                    image: image.imageName, target: ResolvedImage(image: image, tag: nil, modified: false).targetName,
                    work: .none, outcome: .failed(failure))
                progress(.finished(result))
                return (resolved, result)
            default:
                return (resolved, nil)
            }
        }
        var stages = StageResults()
        var copied: [ImageResult] = []
        for (resolved, result) in first {
            switch resolved {
            case .success(let resolution):
                stages.resolutions.append(resolution)
                if let result { copied.append(result) }
            case .failure(let failure):
                stages.failures.append(failure)
                // A failed image the display counted as done.
                if let result { stages.summary.add(result) }
            }
        }
        // After the copies, whose repositories base layers can be mounted from; buildah
        // builds one at a time, layer appends run concurrently.
        let modifications = stages.resolutions.filter { $0.work == .modify }
        let modified = await BoundedMap.map(modifications, limit: concurrency) { image in
            await Self.transfer(image, progress: progress) { _ in await transfer.modify(image) }
        }
        for result in copied + modified {
            stages.results.append(result)
            stages.summary.add(result)
            if case .failed(let failure) = result.outcome { stages.failures.append(failure) }
        }
        do {
            try await transfer.finishWriting()
        } catch {
            stages.failures.append(ImageFailure(image: "the image-serve catalog", error: error))
        }
        stages.notes = await transfer.notes()
        stages.summary.seconds = Self.seconds(clock.now - start)
        return stages
    }

    /// One image's transfer between its `started` and `finished` events.
    private static func transfer(
        _ image: ImageResolution, progress: @escaping @Sendable (ProgressEvent) -> Void,
        _ body: (ByteProgress) async -> ImageOutcome
    ) async -> ImageResult {
        let target = image.resolved.targetName
        progress(.started(target: target, expectedBytes: image.sourceSize))
        let outcome = await body(ByteProgress { progress(.bytes(target: target, count: $0)) })
        let result = ImageResult(image: image.resolved.image.imageName, target: target, work: image.work, outcome: outcome)
        progress(.finished(result))
        return result
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

extension PlannedImage {
    /// Whether a real run may copy or modify the image (resolving settles it).
    var mayTransfer: Bool { pushDestination != nil || modify != nil }
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
