import ImagePrepOCI

/// How `tag_from_label` names a tag: one label (`rdo_version`) or a template of labels
/// (`{version}-{release}`), formatted as upstream formats it, with Python's `str.format`:
/// `{{`/`}}`, the conversions `!s`, `!r`, `!a` and string format specs (`{version:.3}`,
/// `{release:_>8}`). What `str.format` rejects is an error with its reason; what it
/// would do that a tag cannot use (attribute and index look-ups, nested fields,
/// positional fields) is refused.
public struct TagTemplate: Sendable, Hashable, CustomStringConvertible, Encodable {
    enum Part: Sendable, Hashable {
        case literal(String)
        case label(String, conversion: Character?, spec: StringFormatSpec?)
    }

    let parts: [Part]
    public let description: String

    /// Encoded as the text it was parsed from.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public init(_ text: String) throws {
        func invalid(_ reason: String) -> TagTemplateError { .invalid(template: text, reason: reason) }
        guard !text.isEmpty else { throw invalid("it is empty") }
        description = text
        guard text.contains("{") || text.contains("}") else {
            parts = [.label(text, conversion: nil, spec: nil)]
            return
        }
        var parts: [Part] = []
        var current = ""
        var characters = text[...]
        while let character = characters.popFirst() {
            switch character {
            case "{" where characters.first == "{", "}" where characters.first == "}":
                current.append(character)
                characters.removeFirst()
            case "}":
                throw invalid("'}' without a matching '{' (str.format: Single '}' encountered in format string)")
            case "{":
                guard let close = characters.firstIndex(of: "}") else {
                    throw invalid("'{' without a matching '}'")
                }
                let field = String(characters[..<close])
                characters = characters[characters.index(after: close)...]
                if field.contains("{") { throw invalid("'{' inside a label name (nested fields are not supported)") }
                if !current.isEmpty { parts.append(.literal(current)) }
                current = ""
                parts.append(try Self.field(field, invalid: invalid))
            default:
                current.append(character)
            }
        }
        if !current.isEmpty { parts.append(.literal(current)) }
        self.parts = parts
    }

    /// One replacement field, `name[!conversion][:spec]`.
    private static func field(_ field: String, invalid: (String) -> TagTemplateError) throws -> Part {
        var name = field[...]
        var conversion: Character?
        var spec: StringFormatSpec?
        if let colon = name.firstIndex(of: ":") {
            do {
                spec = try StringFormatSpec(String(name[name.index(after: colon)...]))
            } catch {
                throw invalid("str.format: \(error.reason)")
            }
            name = name[..<colon]
        }
        if let bang = name.firstIndex(of: "!") {
            let after = name[name.index(after: bang)...]
            guard after.count == 1, let c = after.first else {
                throw invalid(after.isEmpty ? "str.format: end of string while looking for conversion specifier" : "str.format: expected ':' after conversion specifier")
            }
            guard "sra".contains(c) else { throw invalid("str.format: Unknown conversion specifier \(c)") }
            conversion = c
            name = name[..<bang]
        }
        guard !name.isEmpty else { throw invalid("'{}' names no label") }
        if name.allSatisfy(\.isNumber) { throw invalid("'{\(name)}' is a positional field, not a label name") }
        if name.contains(".") || name.contains("[") {
            throw invalid("'{\(name)}': attribute and index look-ups are not supported; name a label")
        }
        return .label(String(name), conversion: conversion, spec: spec)
    }

    /// The labels the template reads.
    public var labels: [String] {
        parts.compactMap { if case .label(let name, _, _) = $0 { name } else { nil } }
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
        guard let tag = formatted(labels: labels) else { return nil }
        guard Reference.isValidTag(tag) else {
            throw TagTemplateError.invalid(template: description, reason: "it gives '\(tag)' for \(image), which is not a valid tag")
        }
        return tag
    }
}

extension TagTemplate {
    /// The text `str.format(**labels)` gives, or nil when a label is missing.
    public func formatted(labels: [String: String]) -> String? {
        var text = ""
        for part in parts {
            switch part {
            case .literal(let literal):
                text += literal
            case .label(let name, let conversion, let spec):
                guard var value = labels[name] else { return nil }
                switch conversion {
                case "r"?: value = PythonText.repr(value, asciiOnly: false)
                case "a"?: value = PythonText.repr(value, asciiOnly: true)
                default: break
                }
                text += spec.map { $0.apply(to: value) } ?? value
            }
        }
        return text
    }
}

/// A format spec for a string, as Python's `format(str, spec)` reads it:
/// `[[fill]align][0][width][.precision][s]`. Signs, `#`, `=`, grouping and
/// other types are Python's ValueErrors.
struct StringFormatSpec: Sendable, Hashable {
    struct Invalid: Error {
        var reason: String
    }

    var fill: Character = " "
    var align: Character = "<"
    var width = 0
    var precision: Int?

    init(_ spec: String) throws(Invalid) {
        var rest = spec[...]
        let aligns: Set<Character> = ["<", ">", "=", "^"]
        var alignGiven = false
        if rest.count >= 2, aligns.contains(rest[rest.index(after: rest.startIndex)]) {
            fill = rest.removeFirst()
            align = rest.removeFirst()
            alignGiven = true
        } else if let first = rest.first, aligns.contains(first) {
            align = rest.removeFirst()
            alignGiven = true
        }
        if let first = rest.first, "+- ".contains(first) {
            throw Invalid(reason: "Sign not allowed in string format specifier")
        }
        if rest.first == "z" { throw Invalid(reason: "Negative zero coercion (z) not allowed in format specifier") }
        if rest.first == "#" { throw Invalid(reason: "Alternate form (#) not allowed in string format specifier") }
        if rest.first == "0" {
            rest.removeFirst()
            if !alignGiven { fill = "0" }
        }
        let widthDigits = rest.prefix { $0.isASCII && $0.isNumber }
        rest = rest.dropFirst(widthDigits.count)
        guard widthDigits.count <= 9 else { throw Invalid(reason: "Too many decimal digits in format string") }
        width = Int(widthDigits) ?? 0
        if let first = rest.first, first == "," || first == "_" {
            throw Invalid(reason: "Cannot specify '\(first)' with 's'.")
        }
        if rest.first == "." {
            rest.removeFirst()
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty else { throw Invalid(reason: "Format specifier missing precision") }
            guard digits.count <= 9 else { throw Invalid(reason: "Too many decimal digits in format string") }
            rest = rest.dropFirst(digits.count)
            precision = Int(digits)
        }
        if rest.count > 1 { throw Invalid(reason: "Invalid format specifier '\(spec)' for object of type 'str'") }
        if let type = rest.first, type != "s" {
            throw Invalid(reason: "Unknown format code '\(type)' for object of type 'str'")
        }
        if align == "=" { throw Invalid(reason: "'=' alignment not allowed in string format specifier") }
        // A tag is at most 128 characters: a wider field could never be one.
        guard width <= 4096 else { throw Invalid(reason: "width \(width) is wider than any tag") }
    }

    /// Python counts characters as code points.
    func apply(to value: String) -> String {
        var scalars = Array(value.unicodeScalars)
        if let precision, scalars.count > precision { scalars = Array(scalars.prefix(precision)) }
        let text = String(String.UnicodeScalarView(scalars))
        let padding = max(0, width - scalars.count)
        guard padding > 0 else { return text }
        let pad = { (count: Int) in String(repeating: String(fill), count: count) }
        switch align {
        case ">": return pad(padding) + text
        case "^": return pad(padding / 2) + text + pad(padding - padding / 2)
        default: return text + pad(padding)
        }
    }
}

/// Python's `repr()` and `ascii()` of a string.
enum PythonText {
    static func repr(_ value: String, asciiOnly: Bool) -> String {
        let quote: Character = value.contains("'") && !value.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case Unicode.Scalar(String(quote))!: out += "\\" + String(quote)
            default:
                let printable = scalar.value >= 0x20 && scalar.value != 0x7F && !(0x80..<0xA0).contains(scalar.value)
                if printable && (!asciiOnly || scalar.isASCII) {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value <= 0xFF {
                    out += "\\x" + hex(scalar.value, 2)
                } else if scalar.value <= 0xFFFF {
                    out += "\\u" + hex(scalar.value, 4)
                } else {
                    out += "\\U" + hex(scalar.value, 8)
                }
            }
        }
        return out + String(quote)
    }

    private static func hex(_ value: UInt32, _ digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
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
