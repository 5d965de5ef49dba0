import Foundation

/// The one reader of a Dockerfile's text, for the layer engine's recipe and for
/// `Dockerfile.modified`'s rewrite: instructions with their continuation lines joined,
/// comments and blank lines dropped, each with the lines it spans. The `escape` parser
/// directive (before any instruction) sets the continuation character as buildah reads it.
public struct DockerfileText: Sendable, Equatable {
    public var instructions: [DockerfileInstruction] = []
    /// The line of an `escape` parser directive (1-based), nil without one.
    public var escapeDirectiveLine: Int?
    /// The continuation character: `\`, or the directive's.
    public var escape: Character = "\\"

    public init(_ text: String) {
        var pending: (line: Int, text: String)?
        var sawInstruction = false
        var lineNumber = 0
        func finish(_ done: (line: Int, text: String), last: Int) {
            sawInstruction = true
            instructions.append(DockerfileInstruction(done.text, line: done.line, lastLine: last))
        }
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = String(raw)
            if line.hasSuffix("\r") { line.removeLast() }
            let trimmed = line.trimmingLeadingSpaces()
            if trimmed.hasPrefix("#") {
                // Parser directives come before any instruction.
                let directive = trimmed.dropFirst().trimmingCharacters(in: .whitespaces)
                if !sawInstruction, pending == nil, escapeDirectiveLine == nil,
                    let match = directive.range(of: #"^(?i)escape\s*=\s*"#, options: .regularExpression)
                {
                    escapeDirectiveLine = lineNumber
                    if let character = directive[match.upperBound...].trimmingCharacters(in: .whitespaces).first {
                        escape = character
                    }
                }
                continue
            }
            if pending == nil, trimmed.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            var content = line.trimmingTrailingSpaces()
            let continues = content.last == escape
            if continues { content.removeLast() }
            if var open = pending {
                open.text += content
                pending = open
            } else {
                pending = (lineNumber, content.trimmingLeadingSpaces())
            }
            if !continues, let done = pending {
                pending = nil
                finish(done, last: lineNumber)
            }
        }
        // A continuation on the last line ends the instruction.
        if let done = pending { finish(done, last: lineNumber) }
    }

    /// The last `FROM` (the final stage of a multi-stage build).
    public var lastFrom: DockerfileInstruction? {
        instructions.last { $0.keyword == "FROM" }
    }
}

/// One instruction of a Dockerfile: its keyword (upper-cased), its arguments, and the lines
/// it spans (1-based).
public struct DockerfileInstruction: Sendable, Equatable {
    public var keyword: String
    public var arguments: String
    /// The line the instruction starts on.
    public var line: Int
    /// The line it ends on (after its continuation lines).
    public var lastLine: Int

    init(_ text: String, line: Int, lastLine: Int) {
        let body = text.trimmingLeadingSpaces()
        let end = body.firstIndex(where: \.isWhitespace) ?? body.endIndex
        keyword = body[..<end].uppercased()
        arguments = String(body[end...]).trimmingCharacters(in: .whitespaces)
        self.line = line
        self.lastLine = lastLine
    }
}

extension String {
    func trimmingLeadingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }))
    }

    func trimmingTrailingSpaces() -> String {
        var copy = self
        while let last = copy.last, last == " " || last == "\t" { copy.removeLast() }
        return copy
    }
}
