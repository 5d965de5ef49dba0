import Foundation
import ImagePrep

/// `image inspect --format tripleo`: the keys upstream's `openstack tripleo container image
/// show` prints (tripleo-common's `_inspect`, through cliff's JSON formatter): `Name` first,
/// then the others in sorted order, indented by two.
struct TripleoInspection {
    enum Value {
        case string(String)
        case strings([String])
        case map([String: String])
    }

    var fields: [(key: String, value: Value)]

    init(_ inspection: ImageInspection) {
        // Name is registry/repository, the tag on its own, as upstream splits them.
        var name = inspection.name
        var tag = "latest"
        if let at = name.firstIndex(of: "@") { name = String(name[..<at]) }
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") {
            tag = String(name[name.index(after: colon)...])
            name = String(name[..<colon])
        }
        let others: [String: Value] = [
            "Tag": .string(tag),
            "Digest": .string(inspection.digest),
            "RepoTags": .strings(inspection.repositoryTags),
            "Created": .string(inspection.created ?? ""),
            "DockerVersion": .string(inspection.dockerVersion ?? ""),
            "Labels": .map(inspection.labels),
            "Architecture": .string(inspection.architecture ?? ""),
            "Os": .string(inspection.os ?? ""),
            "Layers": .strings(inspection.layers.map(\.digest)),
            "Env": .strings(inspection.env),
        ]
        fields = [("Name", .string(name))] + others.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// As Python's `json.dump(..., indent=2)` writes it.
    var json: String {
        func quoted(_ text: String) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .withoutEscapingSlashes
            let data = try? encoder.encode(text)
            return data.map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
        }
        func render(_ value: Value) -> String {
            switch value {
            case .string(let text): return quoted(text)
            case .strings(let list):
                return list.isEmpty ? "[]" : "[\n" + list.map { "    " + quoted($0) }.joined(separator: ",\n") + "\n  ]"
            case .map(let map):
                return map.isEmpty
                    ? "{}"
                    : "{\n" + map.sorted { $0.key < $1.key }.map { "    \(quoted($0.key)): \(quoted($0.value))" }
                        .joined(separator: ",\n") + "\n  }"
            }
        }
        return "{\n" + fields.map { "  \(quoted($0.key)): \(render($0.value))" }.joined(separator: ",\n") + "\n}"
    }
}
