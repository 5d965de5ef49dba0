import Foundation

/// Groups, inline flags and quantifiers.
extension PythonRegex.Translator {
    /// `(` and the extension after it, if any.
    mutating func group(atStart: Bool) throws(PythonRegex.Failure) {
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
    mutating func flags(_ rest: String, atStart: Bool) throws(PythonRegex.Failure) {
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
}
