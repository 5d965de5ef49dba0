import Foundation

/// An `includes`/`excludes` pattern as upstream reads it — Python's `re`
/// (3.11), used with `re.search` — run on ICU's engine (`NSRegularExpression`).
/// Python's syntax is translated where ICU spells it differently
/// (`(?P<name>…)`, `(?P=name)`, `\Z`, `\v`, octal escapes, `{,n}`, a `[` or
/// `&` in a class, `(?#…)`); a construct ICU cannot match the same way is
/// refused by name, and a pattern Python itself rejects is refused too — never
/// a different match.
public struct PythonRegex: @unchecked Sendable {
    /// Why a pattern cannot be used.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// Python's `re` rejects it (tripleo-common would stop with a traceback).
        case invalid(String)
        /// Python accepts it, imageprep cannot match it the same way.
        case unsupported(String)

        public var description: String {
            switch self {
            case .invalid(let reason): reason
            case .unsupported(let reason): reason
            }
        }
    }

    public let pattern: String
    /// The ICU pattern it became.
    public let translated: String
    private let regex: NSRegularExpression

    public init(_ pattern: String) throws(Failure) {
        self.pattern = pattern
        self.translated = try Self.translate(pattern)
        do {
            // Only \n ends a line, as in Python.
            self.regex = try NSRegularExpression(pattern: translated, options: [.useUnixLineSeparators])
        } catch {
            throw .invalid("a quantifier with nothing to repeat or out of order")
        }
    }

    /// `re.search`: the pattern matches somewhere in `text`.
    public func search(_ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    // MARK: Translation

    static func translate(_ pattern: String) throws(Failure) -> String {
        var translator = Translator(Array(pattern.unicodeScalars))
        return try translator.run()
    }

    private struct Translator {
        let input: [Unicode.Scalar]
        var position = 0
        var output = ""
        /// Capturing groups opened so far, for `(?P=name)`.
        var groups = 0
        var names: [String: Int] = [:]
        /// Where a global flag group may still stand (Python 3.11: only at the start).
        var atStart = true
        /// Groups open at `position`.
        var depth = 0

        init(_ input: [Unicode.Scalar]) { self.input = input }

        var next: Unicode.Scalar? { position < input.count ? input[position] : nil }

        func peek(_ offset: Int) -> Unicode.Scalar? {
            position + offset < input.count ? input[position + offset] : nil
        }

        mutating func run() throws(Failure) -> String {
            while let c = next {
                let wasAtStart = atStart
                atStart = false
                switch c {
                case "\\":
                    try escape(inClass: false)
                case "[":
                    try characterClass()
                case "(":
                    try group(atStart: wasAtStart)
                case "{":
                    quantifierOrBrace()
                case "}", "]":
                    output += "\\" + String(c)
                    position += 1
                case ")":
                    guard depth > 0 else { throw .invalid("unbalanced parenthesis") }
                    depth -= 1
                    output += ")"
                    position += 1
                default:
                    output.unicodeScalars.append(c)
                    position += 1
                }
            }
            guard depth == 0 else { throw .invalid("missing ), unterminated subpattern") }
            return output
        }

        /// `\` and what follows, at `position`.
        mutating func escape(inClass: Bool) throws(Failure) {
            position += 1
            guard let c = next else { throw .invalid("bad escape (end of pattern)") }
            position += 1
            switch c {
            case "d", "D", "s", "S", "w", "W":
                output += "\\" + String(c)
            case "A", "B":
                if inClass { throw .invalid("bad escape \\\(c) in a character class") }
                output += "\\" + String(c)
            case "b":
                // A word boundary; in a class, a backspace.
                output += inClass ? "\\x{08}" : "\\b"
            case "Z":
                if inClass { throw .invalid("bad escape \\Z in a character class") }
                // Python's \Z is the very end; ICU's \Z would also match before a final newline.
                output += "\\z"
            case "a": output += "\\x{07}"
            case "f": output += "\\x{0C}"
            case "n": output += "\\x{0A}"
            case "r": output += "\\x{0D}"
            case "t": output += "\\x{09}"
            // ICU's \v is any vertical space; Python's is one character.
            case "v": output += "\\x{0B}"
            case "x":
                try hexDigits(2, after: "\\x")
            case "u":
                try hexDigits(4, after: "\\u")
            case "U":
                try hexDigits(8, after: "\\U")
            case "N":
                guard next == "{", let close = input[position...].firstIndex(of: "}") else {
                    throw .invalid("bad escape \\N: expected \\N{NAME}")
                }
                output += "\\N" + String(String.UnicodeScalarView(input[position...close]))
                position = close + 1
            case "0"..."9":
                try numericEscape(first: c, inClass: inClass)
            default:
                if c.isASCII && (c.properties.isAlphabetic) {
                    throw .invalid("bad escape \\\(c) (Python's re has no \\\(c))")
                }
                // Any other character escaped is itself.
                output += "\\x{\(String(c.value, radix: 16))}"
            }
        }

        mutating func hexDigits(_ count: Int, after prefix: String) throws(Failure) {
            guard position + count <= input.count,
                input[position..<position + count].allSatisfy({ $0.properties.isASCIIHexDigit })
            else {
                throw .invalid("incomplete escape \(prefix): expected \(count) hexadecimal digits")
            }
            let digits = String(String.UnicodeScalarView(input[position..<position + count]))
            guard let value = UInt32(digits, radix: 16), Unicode.Scalar(value) != nil else {
                throw .invalid("bad escape \(prefix)\(digits)")
            }
            output += "\\x{\(digits)}"
            position += count
        }

        /// Python's rule: `\0` or three octal digits is an octal escape, else
        /// one or two digits name a group (outside a class).
        mutating func numericEscape(first: Unicode.Scalar, inClass: Bool) throws(Failure) {
            func isOctal(_ s: Unicode.Scalar?) -> Bool { s.map { ("0"..."7").contains($0) } ?? false }
            if first == "0" || (isOctal(first) && isOctal(next) && isOctal(peek(1))) {
                var digits = String(first)
                while digits.count < 3, isOctal(next) {
                    digits.unicodeScalars.append(next!)
                    position += 1
                }
                guard let value = UInt32(digits, radix: 8), value <= 0o377 else {
                    throw .invalid("octal escape value \\\(digits) outside of range 0-0o377")
                }
                output += "\\x{\(String(value, radix: 16))}"
                return
            }
            if inClass { throw .invalid("bad escape \\\(first) in a character class") }
            var digits = String(first)
            if let c = next, ("0"..."9").contains(c) {
                digits.unicodeScalars.append(c)
                position += 1
            }
            guard let group = Int(digits), group >= 1, group <= groups else {
                throw .invalid("invalid group reference \(digits)")
            }
            output += "(?:\\\(group))"
        }

        /// `[...]`: ICU reads `[` inside a class as a nested set and `&&` as
        /// an intersection; Python reads both as characters.
        mutating func characterClass() throws(Failure) {
            output += "["
            position += 1
            if next == "^" {
                output += "^"
                position += 1
            }
            if next == "]" {
                output += "\\]"
                position += 1
            }
            while let c = next {
                switch c {
                case "]":
                    output += "]"
                    position += 1
                    return
                case "\\":
                    try escape(inClass: true)
                case "-":
                    output += "-"
                    position += 1
                default:
                    if c.isASCII && !c.properties.isAlphabetic && !("0"..."9").contains(c) && c != " " {
                        output += "\\" + String(c)
                    } else {
                        output.unicodeScalars.append(c)
                    }
                    position += 1
                }
            }
            throw .invalid("unterminated character set")
        }

        /// `(` and the extension after it, if any.
        mutating func group(atStart: Bool) throws(Failure) {
            // Counted open; a comment, a (?P=name) and a global flag group
            // close themselves and uncount it.
            depth += 1
            guard peek(1) == "?" else {
                groups += 1
                output += "("
                position += 1
                return
            }
            let rest = String(String.UnicodeScalarView(input[(position + 2)...]))
            if rest.hasPrefix("P<") {
                guard let close = rest.firstIndex(of: ">") else { throw .invalid("missing >, unterminated name") }
                let name = String(rest[rest.index(rest.startIndex, offsetBy: 2)..<close])
                guard Self.isIdentifier(name) else { throw .invalid("bad character in group name '\(name)'") }
                guard names[name] == nil else { throw .invalid("redefinition of group name '\(name)'") }
                groups += 1
                names[name] = groups
                // A plain group: ICU's names allow no '_', and search needs no names.
                output += "("
                position += 2 + 2 + name.unicodeScalars.count + 1
            } else if rest.hasPrefix("P=") {
                guard let close = rest.firstIndex(of: ")") else { throw .invalid("missing ), unterminated name") }
                let name = String(rest[rest.index(rest.startIndex, offsetBy: 2)..<close])
                guard let group = names[name] else { throw .invalid("unknown group name '\(name)'") }
                output += "(?:\\\(group))"
                position += 2 + 2 + name.unicodeScalars.count + 1
                depth -= 1
            } else if rest.hasPrefix("#") {
                guard let close = input[position...].firstIndex(of: ")") else { throw .invalid("missing ), unterminated comment") }
                position = close + 1
                depth -= 1
                // A comment is nothing: flags after it still stand at the start.
                self.atStart = atStart
            } else if rest.hasPrefix(":") || rest.hasPrefix("=") || rest.hasPrefix("!") || rest.hasPrefix(">") {
                output += "(?" + String(rest.unicodeScalars.first!)
                position += 3
            } else if rest.hasPrefix("<=") || rest.hasPrefix("<!") {
                output += "(?" + String(rest.prefix(2))
                position += 4
            } else if rest.hasPrefix("(") {
                throw .unsupported("Python's conditional group (?(...)...) has no equivalent in imageprep's matcher")
            } else if rest.hasPrefix("P") || rest.hasPrefix("<") {
                throw .invalid("unknown extension ?\(rest.prefix(2))")
            } else {
                try flags(rest, atStart: atStart)
            }
        }

        /// `(?imsx)`, `(?i:...)`, `(?-i:...)`: Python's inline flags.
        mutating func flags(_ rest: String, atStart: Bool) throws(Failure) {
            var on = ""
            var off = ""
            var sawMinus = false
            var length = 0
            for c in rest {
                length += 1
                if c == ":" || c == ")" {
                    if c == ")" {
                        guard !sawMinus else { throw .invalid("missing :") }
                        guard atStart else { throw .invalid("global flags not at the start of the expression") }
                        self.atStart = true
                        depth -= 1
                    }
                    for flag in on + off {
                        switch flag {
                        case "i", "m", "s": continue
                        case "u": continue
                        case "x":
                            throw .unsupported("Python's verbose flag (?x) is not supported in includes/excludes")
                        case "a":
                            throw .unsupported("Python's ASCII flag (?a) is not supported in includes/excludes")
                        default:
                            throw .invalid("bad inline flag \(flag)")
                        }
                    }
                    let icuOn = on.filter { $0 != "u" }
                    let icuOff = off.filter { $0 != "u" }
                    if c == ")" && icuOn.isEmpty {
                        // Only (?u): Python's default, nothing to say.
                    } else {
                        output += "(?" + icuOn + (icuOff.isEmpty ? "" : "-" + icuOff) + String(c)
                    }
                    position += 2 + length
                    return
                }
                if c == "-" {
                    guard !sawMinus else { throw .invalid("bad inline flag -") }
                    sawMinus = true
                } else if sawMinus {
                    off.append(c)
                } else {
                    on.append(c)
                }
            }
            throw .invalid("missing -, : or )")
        }

        /// Python's `{m,n}`: `{,n}` is `{0,n}` and `{,}` is `*`; `{}`, and a
        /// `{` that starts no such form, is the character.
        mutating func quantifierOrBrace() {
            var index = position + 1
            if index < input.count, input[index] == "}" {
                output += "\\{"
                position += 1
                return
            }
            var low = ""
            var high = ""
            var comma = false
            while index < input.count, ("0"..."9").contains(input[index]) {
                low.unicodeScalars.append(input[index])
                index += 1
            }
            if index < input.count, input[index] == "," {
                comma = true
                index += 1
                while index < input.count, ("0"..."9").contains(input[index]) {
                    high.unicodeScalars.append(input[index])
                    index += 1
                }
            }
            guard index < input.count, input[index] == "}" else {
                output += "\\{"
                position += 1
                return
            }
            let minimum = low.isEmpty ? "0" : low
            if comma || low.isEmpty {
                output += "{\(minimum),\(high)}"
            } else {
                output += "{\(minimum)}"
            }
            position = index + 1
        }

        static func isIdentifier(_ name: String) -> Bool {
            guard let first = name.unicodeScalars.first, first == "_" || first.properties.isXIDStart else { return false }
            return name.unicodeScalars.allSatisfy { $0 == "_" || $0.properties.isXIDContinue }
        }
    }
}
