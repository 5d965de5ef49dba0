import Foundation

extension PythonRegex {
    /// Python `re` syntax to ICU syntax, one construct at a time.
    struct Translator {
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

        static func isIdentifier(_ name: String) -> Bool {
            guard let first = name.unicodeScalars.first, first == "_" || first.properties.isXIDStart else { return false }
            return name.unicodeScalars.allSatisfy { $0 == "_" || $0.properties.isXIDContinue }
        }
    }
}
