import Foundation

/// A `WWW-Authenticate` challenge from a registry.
package enum AuthChallenge: Sendable, Equatable {
    case basic
    case bearer(realm: String, service: String?, scope: String?)

    /// Parses `Basic realm="…"` or `Bearer realm="…",service="…",scope="…"`.
    package init?(header: String) {
        let trimmed = header.trimmingPrefix(while: \.isWhitespace)
        let schemeEnd = trimmed.firstIndex(where: \.isWhitespace) ?? trimmed.endIndex
        let scheme = trimmed[..<schemeEnd].lowercased()
        let parameters = Self.parameters(trimmed[schemeEnd...])
        switch scheme {
        case "basic":
            self = .basic
        case "bearer":
            guard let realm = parameters["realm"], !realm.isEmpty else { return nil }
            self = .bearer(realm: realm, service: parameters["service"], scope: parameters["scope"])
        default:
            return nil
        }
    }

    /// `key=value` or `key="quoted, value"` pairs separated by commas.
    private static func parameters(_ text: Substring) -> [String: String] {
        var result: [String: String] = [:]
        var index = text.startIndex
        func skip(_ characters: Set<Character>) {
            while index < text.endIndex, characters.contains(text[index]) { index = text.index(after: index) }
        }
        while index < text.endIndex {
            skip([" ", "\t", ","])
            let keyStart = index
            while index < text.endIndex, text[index] != "=", text[index] != "," { index = text.index(after: index) }
            let key = text[keyStart..<index].trimmingCharacters(in: .whitespaces).lowercased()
            guard index < text.endIndex, text[index] == "=" else { continue }
            index = text.index(after: index)
            var value = ""
            if index < text.endIndex, text[index] == "\"" {
                index = text.index(after: index)
                while index < text.endIndex, text[index] != "\"" {
                    if text[index] == "\\", text.index(after: index) < text.endIndex {
                        index = text.index(after: index)
                    }
                    value.append(text[index])
                    index = text.index(after: index)
                }
                if index < text.endIndex { index = text.index(after: index) }
            } else {
                while index < text.endIndex, text[index] != "," {
                    value.append(text[index])
                    index = text.index(after: index)
                }
                value = value.trimmingCharacters(in: .whitespaces)
            }
            if !key.isEmpty { result[key] = value }
        }
        return result
    }
}
