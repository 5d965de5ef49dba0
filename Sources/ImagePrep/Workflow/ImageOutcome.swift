import ImagePrepBuild
import ImagePrepPlan
import ImagePrepRegistry
import ImagePrepOCI

/// One image after the resolve stage, with what the later stages need from it.
public struct ImageResolution: Sendable {
    public var resolved: ResolvedImage
    /// The digest the source tag pointed at when its labels were read: every later step
    /// (copy, modification base, package inventory) reads that image even if the tag moves.
    public var sourceDigest: Digest?
    /// The image as resolution read it (its manifest and config), when it read one; the
    /// modification and the hotfix plan take it instead of asking again.
    public var source: SourceImage?
    /// The blobs' total size of the image whose labels were read, when its manifest was.
    public var sourceSize: Int64?
    /// rpm_install with `--only-images-with-packages`: what the hotfix would replace.
    public var hotfix: HotfixPlanner.ImagePlan?
    /// What the push destination held under the target name when resolution asked (nil: it
    /// did not ask), so the copy does not ask again.
    public var destination: ImageCopier.DestinationTag?

    public init(
        resolved: ResolvedImage, sourceDigest: Digest? = nil, sourceSize: Int64? = nil,
        hotfix: HotfixPlanner.ImagePlan? = nil
    ) {
        self.resolved = resolved
        self.sourceDigest = sourceDigest
        self.sourceSize = sourceSize
        self.hotfix = hotfix
    }

    /// What the transfer stage does with the image.
    public var work: Work {
        if resolved.modified { return .modify }
        return resolved.image.pushDestination != nil ? .copy : .none
    }

    public enum Work: Sendable, Equatable {
        case copy, modify, none
    }
}

/// Where an image went: a registry (push API) or an image-serve directory (files).
public enum DestinationKind: String, Sendable, Encodable {
    case registry
    case imageServe = "image_serve"
}

/// What copying one image moved.
public struct CopyReport: Sendable, Equatable {
    /// Blobs found at the destination, mounted (hard-linked in an image-serve directory)
    /// or copied, and the bytes copied.
    public var blobs = BlobPlacementCounts()
    /// Bytes of the blobs mounted or already present.
    public var bytesNotCopied: Int64 = 0
    /// The registries.conf mirror the image was read from instead of its registry.
    public var mirror: String?
    /// The image ID, when it came from local container storage.
    public var localImageID: String?
    public var destination: DestinationKind = .registry

    public init() {}
}

/// What modifying one image built and pushed.
public struct ModificationReport: Sendable, Equatable {
    public enum Engine: Sendable, Equatable {
        /// buildah built it; `baseLayersReused` base layers went out as the base's own blobs.
        case buildah(baseLayersReused: Int)
        /// The layer engine appended one layer of `layerSize` bytes (nil: config only).
        case layer(layerSize: Int64?)
        /// The layer engine installed hotfix RPMs (their NEVRAs) in one layer of `layerSize`
        /// bytes, whiting out `whitedOut` files of the versions they replaced.
        case rpmInstall(installed: [String], layerSize: Int64?, whitedOut: Int)
        /// An operator's `modify_role` ran through ansible-playbook; `baseLayersReused` base
        /// layers went out as the base's own blobs.
        case ansible(baseLayersReused: Int)
    }

    /// Why buildah has it, or what it was told to update.
    public enum Note: Sendable, Equatable {
        /// `--engine auto` and a Dockerfile the layer engine does not apply (where and why).
        case layerEngineDeclined(String)
        /// `compare_host_packages`: the packages whose version differs from the host's.
        case hostPackages([String])
    }

    /// The task file, e.g. `rpm_install.yml`.
    public var task: String
    public var engine: Engine
    public var note: Note?
    /// buildah: the blobs pushed; layer engine: the base's blobs placed.
    public var blobs: BlobPlacementCounts
    public var destination: DestinationKind
    /// With `reportPackageChanges`: the packages before and after.
    public var packageChanges: PackageChanges?

    /// Bytes sent to the destination: blobs copied, and the appended layer.
    public var bytesTransferred: Int64 {
        switch engine {
        case .layer(let size?), .rpmInstall(_, let size?, _): return blobs.bytesCopied + size
        default: return blobs.bytesCopied
        }
    }
}

/// How one image's transfer ended.
public enum ImageOutcome: Sendable, Equatable {
    case copied(CopyReport)
    /// Nothing to do: the destination has it.
    case skipped(SkipReason)
    case modified(ModificationReport)
    case failed(ImageFailure)

    public enum SkipReason: Sendable, Equatable {
        /// The destination tag already points at this digest.
        case alreadyThere(Digest?)
        /// The modified image's tag is already at the destination.
        case alreadyModified
    }
}

/// One image's transfer, for the report and the progress display.
public struct ImageResult: Sendable, Equatable {
    /// The image as planned.
    public var image: String
    /// Where it went (the heat parameters' value).
    public var target: String
    public var work: ImageResolution.Work
    public var outcome: ImageOutcome

    public init(image: String, target: String, work: ImageResolution.Work, outcome: ImageOutcome) {
        self.image = image
        self.target = target
        self.work = work
        self.outcome = outcome
    }
}

/// What the transfer stage reports while it runs, as values: the CLI draws them.
public enum ProgressEvent: Sendable {
    /// How many images the run copies or modifies; sent again when resolving settles it.
    case planned(images: Int)
    /// An image's transfer started; `expectedBytes` is its source's size when known.
    case started(target: String, expectedBytes: Int64?)
    /// Bytes of an image's blobs streamed from its source.
    case bytes(target: String, count: Int)
    case finished(ImageResult)
}

/// The counts and bytes of a run's transfers: the final summary line and `--json`'s
/// `summary`.
public struct TransferSummary: Sendable, Equatable, Encodable {
    public var images = 0
    public var copied = 0
    public var skipped = 0
    public var modified = 0
    public var failed = 0
    /// Bytes sent to destinations (blobs copied, layers appended).
    public var bytesTransferred: Int64 = 0
    /// Bytes of blobs the destinations had or mounted, so nothing was sent.
    public var bytesMountedOrPresent: Int64 = 0
    public var seconds: Double = 0

    public init() {}

    /// Bytes transferred per second of the run.
    public var bytesPerSecond: Double { seconds > 0 ? Double(bytesTransferred) / seconds : 0 }

    public mutating func add(_ result: ImageResult) {
        images += 1
        switch result.outcome {
        case .copied(let report):
            copied += 1
            bytesTransferred = bytesTransferred.addingSaturated(report.blobs.bytesCopied)
            bytesMountedOrPresent = bytesMountedOrPresent.addingSaturated(report.bytesNotCopied)
        case .skipped:
            skipped += 1
        case .modified(let report):
            modified += 1
            bytesTransferred = bytesTransferred.addingSaturated(report.bytesTransferred)
        case .failed:
            failed += 1
        }
    }

    enum CodingKeys: String, CodingKey {
        case images, copied, skipped, modified, failed, seconds
        case bytesTransferred = "bytes_transferred", bytesMountedOrPresent = "bytes_mounted_or_present"
        case bytesPerSecond = "bytes_per_second"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(images, forKey: .images)
        try container.encode(copied, forKey: .copied)
        try container.encode(skipped, forKey: .skipped)
        try container.encode(modified, forKey: .modified)
        try container.encode(failed, forKey: .failed)
        try container.encode(bytesTransferred, forKey: .bytesTransferred)
        try container.encode(bytesMountedOrPresent, forKey: .bytesMountedOrPresent)
        try container.encode((seconds * 1000).rounded() / 1000, forKey: .seconds)
        try container.encode(bytesPerSecond.rounded(), forKey: .bytesPerSecond)
    }
}
