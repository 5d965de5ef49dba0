import Foundation
import ImagePrepOCI

/// An Apache type map (`manifests/<tag>.type-map`): which manifest httpd serves for a tag,
/// by the media type the client accepts. Written as tripleo-common writes it (a manifest
/// list's map also gives the list the higher `qs`, see ``ImageServeDirectory``):
///
///     URI: <tag>
///
///     Content-Type: <media type>
///     URI: <digest>/index.json
///
struct TypeMap: Equatable {
    struct Variant: Equatable {
        var mediaType: MediaType
        var digest: Digest
        /// The source quality (`qs`) httpd weighs the variant with; nil leaves it out.
        var quality: String?
    }

    var tag: String
    var variants: [Variant]

    /// The manifest the tag stands for: the manifest list's when the map offers one, else the
    /// first variant's.
    var taggedDigest: Digest? {
        (variants.first { $0.mediaType.isIndex } ?? variants.first)?.digest
    }

    var text: String {
        var text = "URI: \(tag)\n\n"
        for variant in variants {
            let parameters = variant.quality.map { "; qs=\($0)" } ?? ""
            text += "Content-Type: \(variant.mediaType.rawValue)\(parameters)\nURI: \(variant.digest)/index.json\n\n"
        }
        return text
    }

    /// Reads a type map the way tripleo-common's `parse_type_map_file` does (blocks of
    /// `Key: value` lines separated by blank lines); URIs other than `<digest>/index.json`
    /// (the tag's own block) are skipped. Nil when no variant names a manifest digest.
    static func parse(_ text: String, tag: String) -> TypeMap? {
        var variants: [Variant] = []
        var uri: String?
        var contentType: String?
        func endBlock() {
            if let uri, let contentType, uri.hasSuffix("/index.json"),
               let digest = try? Digest(String(uri.dropLast("/index.json".count)))
            {
                variants.append(Variant(mediaType: MediaType(rawValue: contentType).essence, digest: digest))
            }
            uri = nil
            contentType = nil
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty {
                endBlock()
                continue
            }
            guard let colon = trimmed.firstIndex(of: ":") else { continue }
            let key = trimmed[..<colon].lowercased()
            let value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if key == "uri" {
                uri = value
            } else if key == "content-type" {
                contentType = value
            }
        }
        endBlock()
        return variants.isEmpty ? nil : TypeMap(tag: tag, variants: variants)
    }
}
