import Foundation
import ImagePrepArchive
import ImagePrepBuild
import ImagePrepOCI
import ImagePrepRegistry

/// Which engine modifies an image.
public enum ModifyEngine: String, Sendable, CaseIterable {
    /// The layer engine when the Dockerfile allows it (a `modify_image` without `RUN`),
    /// buildah otherwise.
    case auto
    case buildah
    /// Only the layer engine: a Dockerfile that needs buildah is an error.
    case layer
}

/// Applies a Dockerfile that runs nothing (``LayerRecipe``) to an image in a registry without
/// buildah: the copied files become one new layer written with libarchive (sorted entries,
/// fixed modification times, gzip without a timestamp, so the same inputs give the same
/// digest), the config and manifest are extended, and the result is pushed. The base image's
/// layers are never downloaded: they are already at the destination, or mounted there, or,
/// when the destination is another registry that lacks them, streamed across (and counted).
public struct LayerAppendEngine: Sendable {
    /// Places the base's layers at the destination (present, mounted, or streamed across).
    public var copier: ImageCopier
    public var client: RegistryClient { copier.client }
    /// Where the new layer is written before it is pushed.
    public var workDirectory: URL
    /// Keep the copied files' own modification times instead of the base image's creation time.
    public var keepSourceMtimes = false

    public init(copier: ImageCopier, workDirectory: URL) {
        self.copier = copier
        self.workDirectory = workDirectory
    }

    public struct Report: Sendable, Equatable {
        public var digest: Digest
        /// The new layer; nil when the Dockerfile copies nothing (only config changes).
        public var layer: Descriptor?
        /// Copied base layers went through imageprep (none unless another registry had to
        /// send them).
        public var baseLayers = BlobPlacementCounts()
    }

    /// Builds `recipe` (read from `context`'s `Dockerfile.modified`) on `source` and pushes
    /// the result to `target`.
    public func append(_ recipe: LayerRecipe, context: URL, source: Reference, target: Reference) async throws -> Report {
        let base = try await client.resolveImage(source)
        guard base.raw.mediaType.isImageManifest else {
            throw LayerEngineError(image: source.description, message: "unsupported manifest type \(base.raw.mediaType)")
        }
        let baseConfig = try await client.fetchImageConfigData(of: base, in: source)
        let created = Self.created(in: baseConfig)
        let applied = try recipe.apply(
            toConfig: baseConfig, context: context, mtime: created.seconds, keepSourceMtimes: keepSourceMtimes)

        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        let layerFile = workDirectory.appendingPathComponent("layer-\(UUID().uuidString.prefix(8)).tar.gz")
        defer { try? FileManager.default.removeItem(at: layerFile) }
        // A Dockerfile that copies nothing changes only the config: no empty layer.
        let written = applied.entries.isEmpty ? nil : try Self.writeLayer(applied.entries, to: layerFile)
        let layerType: MediaType = base.raw.mediaType == .ociManifest ? .ociLayer : .dockerLayer
        let layer = written.map { Descriptor(mediaType: layerType, digest: $0.digest, size: $0.size) }

        let config = try Self.extend(
            config: applied.config, diffID: written?.diffID, created: created.text,
            createdBy: "imageprep layer engine: " + recipe.instructions.joined(separator: "; "))
        let configDescriptor = Descriptor(mediaType: base.manifest.config.mediaType, digest: Digest(of: config), size: Int64(config.count))
        let manifest = try Self.extend(manifest: base.raw.bytes, config: configDescriptor, layer: layer)

        var report = Report(digest: Digest(of: manifest), layer: layer)
        // The base's layers, the new layer and the config go up at the same time; the
        // manifest, which the registry checks against them, last.
        let copier = copier
        async let newLayer: BlobPlacement? = {
            guard let layer else { return nil }
            return try await copier.place(layer, from: .file(layerFile), in: target)
        }()
        async let newConfig = copier.place(configDescriptor, from: .data(config), in: target)
        if source.registry == target.registry, source.repository == target.repository {
            // The base's own manifest holds its layers in this repository.
            report.baseLayers.present = base.manifest.layers.count
        } else {
            for placement in try await copier.copyBlobs(base.manifest.layers, from: source, to: target) {
                report.baseLayers.add(placement)
            }
        }
        _ = try await newLayer
        _ = try await newConfig
        try await copier.putManifest(manifest, mediaType: base.raw.mediaType, to: target)
        return report
    }

    struct WrittenLayer {
        var diffID: Digest
        var digest: Digest
        var size: Int64
    }

    /// Writes the layer twice with the same entries: uncompressed only to hash it (its
    /// diff_id), then gzip-compressed to `file` (its digest and size).
    static func writeLayer(_ entries: [ArchiveWriter.Entry], to file: URL) throws -> WrittenLayer {
        var tarHasher = DigestHasher()
        let plain = try ArchiveWriter(destination: file.path, compression: .none) { tarHasher.update($0) }
        for entry in entries { try plain.add(entry) }
        try plain.finish()

        guard FileManager.default.createFile(atPath: file.path, contents: nil),
              let handle = FileHandle(forWritingAtPath: file.path)
        else {
            throw LayerEngineError(image: file.path, message: "cannot create the layer file")
        }
        defer { try? handle.close() }
        var gzipHasher = DigestHasher()
        var size: Int64 = 0
        let compressed = try ArchiveWriter(destination: file.path, compression: .gzip) { bytes in
            gzipHasher.update(bytes)
            size += Int64(bytes.count)
            try handle.write(contentsOf: bytes)
        }
        for entry in entries { try compressed.add(entry) }
        try compressed.finish()
        return WrittenLayer(diffID: tarHasher.finalize(), digest: gzipHasher.finalize(), size: size)
    }

    /// The base image's creation time: the new layer's files and history entry get it, so
    /// that the result depends only on its inputs.
    static func created(in config: Data) -> (text: String, seconds: Int) {
        let object = (try? JSONSerialization.jsonObject(with: config)) as? [String: Any]
        guard let text = object?["created"] as? String else { return ("1970-01-01T00:00:00Z", 0) }
        return (text, epochSeconds(text) ?? 0)
    }

    /// Seconds since the epoch of an RFC 3339 time (`2019-05-01T10:20:30.123456789Z`, or with
    /// a `+02:00` offset); fractions are dropped. Parsed by hand: a date formatter would load
    /// ICU, which costs more than the rest of a small modification.
    static func epochSeconds(_ text: String) -> Int? {
        let digits = text.unicodeScalars.map { $0 }
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= digits.count else { return nil }
            var value = 0
            for scalar in digits[from..<(from + count)] {
                guard let digit = Int(String(scalar)) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146097 + dayOfEra - 719468
        var seconds = days * 86400 + hour * 3600 + minute * 60 + second
        // A numeric offset after the seconds and any fraction.
        var index = 19
        if index < digits.count, digits[index] == "." {
            index += 1
            while index < digits.count, ("0"..."9").contains(digits[index]) { index += 1 }
        }
        if index < digits.count, digits[index] == "+" || digits[index] == "-",
           let hours = number(index + 1, 2), let minutes = number(index + 4, 2)
        {
            let offset = hours * 3600 + minutes * 60
            seconds += digits[index] == "+" ? -offset : offset
        }
        return seconds
    }

    /// Adds the layer's diff_id (if there is a layer) to `rootfs` and, when the base keeps a
    /// history, an entry for the change.
    static func extend(config: Data, diffID: Digest?, created: String, createdBy: String) throws -> Data {
        guard var object = try JSONSerialization.jsonObject(with: config) as? [String: Any] else {
            throw LayerEngineError(image: "", message: "the image config is not a JSON object")
        }
        if let diffID {
            var rootfs = object["rootfs"] as? [String: Any] ?? ["type": "layers"]
            rootfs["diff_ids"] = (rootfs["diff_ids"] as? [String] ?? []) + [diffID.description]
            object["rootfs"] = rootfs
        }
        if var history = object["history"] as? [Any] {
            var entry: [String: Any] = ["created": created, "created_by": createdBy, "comment": "imageprep --engine layer"]
            if diffID == nil { entry["empty_layer"] = true }
            history.append(entry)
            object["history"] = history
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// The base manifest with the new config and the new layer; its other fields are kept.
    static func extend(manifest: Data, config: Descriptor, layer: Descriptor?) throws -> Data {
        guard var object = try JSONSerialization.jsonObject(with: manifest) as? [String: Any] else {
            throw LayerEngineError(image: "", message: "the base manifest is not a JSON object")
        }
        func json(_ descriptor: Descriptor) -> [String: Any] {
            ["mediaType": descriptor.mediaType.rawValue, "digest": descriptor.digest.description, "size": descriptor.size]
        }
        object["config"] = json(config)
        if let layer { object["layers"] = (object["layers"] as? [Any] ?? []) + [json(layer)] }
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}

/// The layer engine could not build an image.
public struct LayerEngineError: Error, Sendable, CustomStringConvertible {
    public var image: String
    public var message: String

    public var description: String { image.isEmpty ? message : "\(image): \(message)" }
}
