/// Splits template source into text, `{{ }}` and `{% %}` pieces, applying
/// Jinja2's default whitespace rules: one trailing newline of the source is
/// dropped, `{%-`/`-%}` (and the `{{` forms) trim the whitespace beside them,
/// and `{# #}` comments vanish.
struct TemplateLexer {
    enum Token: Equatable {
        case text(String)
        case output(String, line: Int)
        case statement(String, line: Int)
    }

    let file: String

    func tokenize(_ source: String) throws(TemplateError) -> [Token] {
        var chars = Array(source)
        if chars.last == "\n" { chars.removeLast() }
        var tokens: [Token] = []
        var text: [Character] = []
        var line = 1
        var i = 0
        var trimNextLeading = false

        func flushText(trimTrailing: Bool) {
            var piece = text
            if trimNextLeading {
                while let first = piece.first, first.isWhitespace { piece.removeFirst() }
                trimNextLeading = false
            }
            if trimTrailing {
                while let last = piece.last, last.isWhitespace { piece.removeLast() }
            }
            if !piece.isEmpty { tokens.append(.text(String(piece))) }
            text = []
        }

        while i < chars.count {
            let c = chars[i]
            if c == "{", i + 1 < chars.count, "{%#".contains(chars[i + 1]) {
                let kind = chars[i + 1]
                let close: Character = kind == "{" ? "}" : kind
                let startLine = line
                var j = i + 2
                let trimBefore = j < chars.count && chars[j] == "-"
                if trimBefore { j += 1 }
                var body: [Character] = []
                var closed = false
                while j < chars.count {
                    if chars[j] == close, j + 1 < chars.count, chars[j + 1] == "}" {
                        closed = true
                        break
                    }
                    if chars[j] == "\n" { line += 1 }
                    body.append(chars[j])
                    j += 1
                }
                guard closed else {
                    let what = kind == "{" ? "'}}'" : kind == "%" ? "'%}'" : "'#}'"
                    throw TemplateError(file: file, line: startLine, message: "unclosed tag: expected \(what)")
                }
                var trimAfter = false
                if body.last == "-" {
                    trimAfter = true
                    body.removeLast()
                }
                flushText(trimTrailing: trimBefore)
                let content = String(body).trimmingWhitespace()
                switch kind {
                case "{": tokens.append(.output(content, line: startLine))
                case "%": tokens.append(.statement(content, line: startLine))
                default: break
                }
                trimNextLeading = trimAfter
                i = j + 2
                continue
            }
            if c == "\n" { line += 1 }
            text.append(c)
            i += 1
        }
        flushText(trimTrailing: false)
        return tokens
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
