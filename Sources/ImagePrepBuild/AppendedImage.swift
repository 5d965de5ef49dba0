import Foundation
import ImagePrepArchive
import ImagePrepOCI

/// What the layer engine makes of a base image: the base's manifest and config with one more
/// layer (or, for a change of config only, none), as the bytes to push. The layer is written
/// with libarchive (sorted entries, fixed modification times, gzip without a timestamp, so the
/// same inputs give the same digest).
public struct AppendedImage: Sendable {
    /// A layer written to a file: its uncompressed digest (diff_id) and its gzip blob.
    public struct Layer: Sendable, Equatable {
        public var diffID: Digest
        public var descriptor: Descriptor
        public var file: URL
    }

    public var manifest: Data
    public var mediaType: MediaType
    public var config: Data
    public var configDescriptor: Descriptor
    public var layer: Layer?

    public var digest: Digest { Digest(of: manifest) }

    /// The search path buildah gives an image whose config has none (`Env` without `PATH=`).
    public static let defaultSearchPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The base image's creation time: the new layer's files and history entry get it, so that
    /// the result depends only on its inputs (the epoch when the config has none).
    public static func created(in config: ImageDocument) -> (text: String, seconds: Int) {
        guard let text = config.created else { return ("1970-01-01T00:00:00Z", 0) }
        return (text, RFC3339.epochSeconds(text) ?? 0)
    }

    /// The base (`manifest`, of `mediaType`) with `config` (already edited) and `entries` as a
    /// new top layer written to `layerFile`; no layer when `entries` is empty.
    public static func make(
        base manifest: Data, mediaType: MediaType, configMediaType: MediaType, config: ImageDocument,
        entries: [ArchiveWriter.Entry], layerFile: URL, createdBy: String, comment: String
    ) throws -> AppendedImage {
        guard mediaType.isImageManifest else {
            throw LayerEngineError(image: "", message: "unsupported manifest type \(mediaType)")
        }
        let layerType: MediaType = mediaType == .ociManifest ? .ociLayer : .dockerLayer
        let layer = try entries.isEmpty ? nil : writeLayer(entries, to: layerFile, mediaType: layerType)
        var config = config
        config.appendLayer(diffID: layer?.diffID, created: created(in: config).text, createdBy: createdBy, comment: comment)
        let configBytes = config.encoded()
        let configDescriptor = Descriptor(mediaType: configMediaType, digest: Digest(of: configBytes), size: Int64(configBytes.count))
        var document: ImageDocument
        do {
            document = try ImageDocument(manifest, what: "the base manifest")
        } catch {
            throw LayerEngineError(image: "", message: "\(error)")
        }
        document.setConfig(configDescriptor)
        if let layer { document.appendLayer(layer.descriptor) }
        return AppendedImage(
            manifest: document.encoded(), mediaType: mediaType, config: configBytes, configDescriptor: configDescriptor, layer: layer)
    }

    /// Writes the layer twice with the same entries: uncompressed only to hash it (its
    /// diff_id), then gzip-compressed to `file` (its digest and size).
    public static func writeLayer(_ entries: [ArchiveWriter.Entry], to file: URL, mediaType: MediaType) throws -> Layer {
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
        return Layer(
            diffID: tarHasher.finalize(), descriptor: Descriptor(mediaType: mediaType, digest: gzipHasher.finalize(), size: size),
            file: file)
    }
}

/// The layer engine could not build an image.
public struct LayerEngineError: Error, Sendable, CustomStringConvertible {
    public var image: String
    public var message: String

    public init(image: String, message: String) {
        self.image = image
        self.message = message
    }

    public var description: String { image.isEmpty ? message : "\(image): \(message)" }
}
