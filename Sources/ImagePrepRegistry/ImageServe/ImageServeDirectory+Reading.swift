import Foundation
import ImagePrepConcurrency

#if canImport(Glibc)
import Glibc
import ImagePrepOCI
#endif

extension ImageServeDirectory {
    /// The tags of `repository`: its type maps' names, sorted.
    public func tags(of repository: String) -> [String] {
        ImageServeFiles.names(in: manifestsDirectory(repository), under: root)
            .filter { $0.hasSuffix(".type-map") && !$0.hasPrefix(".") }
            .map { String($0.dropLast(".type-map".count)) }
            .sorted()
    }

    /// Every repository: the directories under `v2/` that hold `blobs`, `manifests` and
    /// `tags`, as tripleo-common's catalog counts them.
    public func repositories() -> [String] {
        var found: [String] = []
        func walk(_ directory: URL, _ path: String) {
            let names = Set(ImageServeFiles.names(in: directory, under: root))
            if !path.isEmpty, names.isSuperset(of: ["blobs", "manifests", "tags"]) { found.append(path) }
            for name in names.sorted() where !name.hasPrefix(".") && !["blobs", "manifests", "tags"].contains(name) {
                let child = directory.appendingPathComponent(name, isDirectory: false)
                if ImageServeFiles.isDirectory(child) { walk(child, path.isEmpty ? name : "\(path)/\(name)") }
            }
        }
        walk(v2, "")
        return found.sorted()
    }

    /// The manifest (or manifest list) `repository:tag` names, nil when the tag is not there.
    public func taggedDigest(repository: String, tag: String) -> Digest? {
        typeMap(repository, tag: tag)?.taggedDigest
    }

    func typeMap(_ repository: String, tag: String) -> TypeMap? {
        guard let data = ImageServeFiles.read(typeMapFile(repository, tag: tag), under: root, limit: 64 * 1024) else { return nil }
        return TypeMap.parse(String(decoding: data, as: UTF8.self), tag: tag)
    }

    /// The manifest stored under `digest` when it is whole: its `index.json` has that digest
    /// and everything it names is whole too (an image's blobs, a list's manifests), so a run
    /// never skips an image a killed exporter left damaged. Its size and media type (from
    /// its `.htaccess`).
    func manifest(_ digest: Digest, in repository: String, depth: Int = 0) -> Descriptor? {
        let directory = manifestsDirectory(repository).appendingPathComponent(digest.description, isDirectory: false)
        guard depth < 2, let bytes = ImageServeFiles.read(directory.appendingPathComponent("index.json", isDirectory: false), under: root, limit: 8 * 1024 * 1024),
              Digest(of: bytes, algorithm: digest.algorithm) == digest
        else { return nil }
        var mediaType = MediaType.dockerManifest
        if let htaccess = ImageServeFiles.read(directory.appendingPathComponent(".htaccess", isDirectory: false), under: root, limit: 64 * 1024) {
            for line in String(decoding: htaccess, as: UTF8.self).split(separator: "\n") where line.contains("Content-Type") {
                let parts = line.split(separator: "\"")
                if parts.count >= 2 { mediaType = MediaType(rawValue: String(parts[1])) }
            }
        }
        if mediaType.isIndex {
            guard let index = try? JSONDecoder().decode(Index.self, from: bytes),
                  index.manifests.allSatisfy({ manifest($0.digest, in: repository, depth: depth + 1) != nil })
            else { return nil }
        } else {
            guard let manifest = try? JSONDecoder().decode(Manifest.self, from: bytes),
                  manifest.blobs.allSatisfy({ blobFile($0, in: repository) != nil })
            else { return nil }
        }
        return Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }

    /// The manifest `tag` names, when its type map names one that is there.
    func taggedManifest(_ repository: String, tag: String) -> Descriptor? {
        guard let digest = typeMap(repository, tag: tag)?.taggedDigest else { return nil }
        return manifest(digest, in: repository)
    }
}
