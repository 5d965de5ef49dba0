import ImagePrepOCI

/// How `tag_from_label` names a tag: one label (`rdo_version`) or a template of labels
/// (`{version}-{release}`).
public struct TagTemplate: Sendable, Hashable, CustomStringConvertible {
    enum Part: Sendable, Hashable {
        case literal(String)
        case label(String)
    }

    let parts: [Part]
    public let description: String

    public init(_ text: String) throws {
        func invalid(_ reason: String) -> TagTemplateError { .invalid(template: text, reason: reason) }
        guard !text.isEmpty else { throw invalid("it is empty") }
        description = text
        guard text.contains("{") || text.contains("}") else {
            parts = [.label(text)]
            return
        }
        var parts: [Part] = []
        var current = ""
        var inLabel = false
        for character in text {
            switch (character, inLabel) {
            case ("{", false):
                if !current.isEmpty { parts.append(.literal(current)) }
                current = ""
                inLabel = true
            case ("}", true):
                guard !current.isEmpty else { throw invalid("'{}' names no label") }
                parts.append(.label(current))
                current = ""
                inLabel = false
            case ("{", true):
                throw invalid("'{' inside a label name")
            case ("}", false):
                throw invalid("'}' without a matching '{'")
            default:
                current.append(character)
            }
        }
        guard !inLabel else { throw invalid("'{' without a matching '}'") }
        if !current.isEmpty { parts.append(.literal(current)) }
        self.parts = parts
    }

    /// The labels the template reads.
    public var labels: [String] {
        parts.compactMap { if case .label(let name) = $0 { name } else { nil } }
    }

    /// The tag for an image with `labels`; `image` names it in errors.
    public func tag(labels: [String: String], image: String) throws -> String {
        if let missing = missingLabel(in: labels) {
            throw TagTemplateError.missingLabel(image: image, label: missing, available: Array(labels.keys))
        }
        return try tagIfLabelled(labels: labels, image: image)!
    }

    /// The first label the template reads that `labels` lacks.
    public func missingLabel(in labels: [String: String]) -> String? {
        self.labels.first { labels[$0] == nil }
    }

    /// The tag for an image with `labels`, or nil when one of the labels is
    /// missing (upstream then keeps the tag the image was named with).
    public func tagIfLabelled(labels: [String: String], image: String) throws -> String? {
        var tag = ""
        for part in parts {
            switch part {
            case .literal(let text):
                tag += text
            case .label(let name):
                guard let value = labels[name] else { return nil }
                tag += value
            }
        }
        guard Reference.isValidTag(tag) else {
            throw TagTemplateError.invalid(template: description, reason: "it gives '\(tag)' for \(image), which is not a valid tag")
        }
        return tag
    }
}

/// A `tag_from_label` that does not parse, or an image that lacks a label it reads.
public enum TagTemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(template: String, reason: String)
    case missingLabel(image: String, label: String, available: [String])

    /// One line: label names and values come from the image, so their control characters
    /// are escaped.
    public var description: String { text.escapingControlCharacters() }

    private var text: String {
        switch self {
        case .invalid(let template, let reason):
            return "invalid tag_from_label '\(template)': \(reason)"
        case .missingLabel(let image, let label, let available):
            let list = available.isEmpty ? "it has no labels" : "its labels are: \(available.sorted().joined(separator: ", "))"
            return "image \(image) has no label '\(label)' to take its tag from; \(list)"
        }
    }
}
