/// A catalog template in the Jinja2 subset upstream's catalog files use:
/// `{{ expr }}`, `{% if %}`/`{% elif %}`/`{% else %}`/`{% endif %}`,
/// `{% include 'file' %}` and `{# comments #}`, with Jinja2's default
/// whitespace handling, so the output matches Jinja2's byte for byte.
public struct Template: Sendable {
    indirect enum Node: Sendable {
        case text(String)
        case output(TemplateExpression, line: Int)
        case conditional([(TemplateExpression, [Node])], otherwise: [Node])
        case include(String, line: Int)
    }

    /// Reads an included template by its path (relative to the including
    /// template's folder, already joined); returns nil when there is none.
    public typealias Loader = @Sendable (_ path: String) throws -> String?

    public let file: String
    let nodes: [Node]

    public init(source: String, file: String) throws(TemplateError) {
        self.file = file
        let tokens = try TemplateLexer(file: file).tokenize(source)
        var parser = TemplateParser(file: file, tokens: tokens)
        self.nodes = try parser.parseAll()
    }

    /// `strict`: a `{{ }}` that names an undefined variable is an error
    /// naming the line and the variable, instead of Jinja2's empty text.
    public func render(_ context: TemplateContext, loader: Loader, strict: Bool = false) throws(TemplateError) -> String {
        var output = ""
        try render(nodes, context: context, loader: loader, depth: 0, strict: strict, into: &output)
        return output
    }

    private func render(
        _ nodes: [Node], context: TemplateContext, loader: Loader, depth: Int, strict: Bool, into output: inout String
    ) throws(TemplateError) {
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .output(let expression, let line):
                let value = expression.evaluate(in: context)
                if strict && value == .undefined {
                    // Jinja2 would print nothing, leaving names like 'localhost:8787//:'.
                    let name = expression.variableName ?? "the expression"
                    throw TemplateError(
                        file: file, line: line,
                        message: "'\(name)' is not defined: no 'set' value or catalog default gives it",
                        undefinedVariable: name)
                }
                output += value.rendered
            case .conditional(let branches, let otherwise):
                if let branch = branches.first(where: { $0.0.evaluate(in: context).isTruthy }) {
                    try render(branch.1, context: context, loader: loader, depth: depth, strict: strict, into: &output)
                } else {
                    try render(otherwise, context: context, loader: loader, depth: depth, strict: strict, into: &output)
                }
            case .include(let name, let line):
                guard depth < 16 else {
                    throw TemplateError(file: file, line: line, message: "includes nested too deeply (a loop?) at '\(name)'")
                }
                let path = Self.path(of: name, besides: file)
                let source: String?
                do {
                    source = try loader(path)
                } catch {
                    throw TemplateError(file: file, line: line, message: "cannot read included template '\(path)': \(error)")
                }
                guard let source else {
                    throw TemplateError(file: file, line: line, message: "included template '\(path)' not found")
                }
                let included = try Template(source: source, file: path)
                try included.render(included.nodes, context: context, loader: loader, depth: depth + 1, strict: strict, into: &output)
            }
        }
    }

    static func path(of name: String, besides file: String) -> String {
        if name.hasPrefix("/") { return name }
        guard let slash = file.lastIndex(of: "/") else { return name }
        return String(file[...slash]) + name
    }
}

struct TemplateParser {
    let file: String
    let tokens: [TemplateLexer.Token]
    var position = 0
    /// `{% if %}` blocks open so far; bounded like expressions' nesting
    /// (parsing and rendering recurse per level).
    private var openConditionals = 0
    static let maximumConditionalNesting = 32

    init(file: String, tokens: [TemplateLexer.Token]) {
        self.file = file
        self.tokens = tokens
    }

    mutating func parseAll() throws(TemplateError) -> [Template.Node] {
        let (nodes, end) = try parseBlock(until: [])
        if let end {
            throw TemplateError(file: file, line: end.line, message: "unexpected '{% \(end.keyword) %}' with no open 'if'")
        }
        return nodes
    }

    /// Parses nodes until a statement whose keyword is in `terminators`;
    /// returns that statement (nil at the end of input).
    private mutating func parseBlock(
        until terminators: Set<String>
    ) throws(TemplateError) -> ([Template.Node], (keyword: String, rest: String, line: Int)?) {
        var nodes: [Template.Node] = []
        while position < tokens.count {
            let token = tokens[position]
            position += 1
            switch token {
            case .text(let text):
                nodes.append(.text(text))
            case .output(let source, let line):
                var parser = TemplateExpressionParser(file: file, line: line)
                nodes.append(.output(try parser.parse(source), line: line))
            case .statement(let source, let line):
                let (keyword, rest) = Self.split(source)
                if terminators.contains(keyword) || ["elif", "else", "endif"].contains(keyword) {
                    return (nodes, (keyword, rest, line))
                }
                switch keyword {
                case "if":
                    nodes.append(try parseConditional(condition: rest, line: line))
                case "include":
                    nodes.append(.include(try includeName(rest, line: line), line: line))
                case "":
                    throw TemplateError(file: file, line: line, message: "empty '{% %}' tag")
                default:
                    throw TemplateError(
                        file: file, line: line,
                        message: "unsupported tag '\(keyword)' (imageprep templates support if, elif, else, endif, include)")
                }
            }
        }
        return (nodes, nil)
    }

    private mutating func parseConditional(condition: String, line: Int) throws(TemplateError) -> Template.Node {
        openConditionals += 1
        defer { openConditionals -= 1 }
        guard openConditionals <= Self.maximumConditionalNesting else {
            throw TemplateError(file: file, line: line, message: "'{% if %}' nested more than \(Self.maximumConditionalNesting) deep")
        }
        var branches: [(TemplateExpression, [Template.Node])] = []
        var otherwise: [Template.Node] = []
        var currentCondition = condition
        var currentLine = line
        while true {
            var parser = TemplateExpressionParser(file: file, line: currentLine)
            let expression = try parser.parse(currentCondition)
            let (body, end) = try parseBlock(until: ["elif", "else", "endif"])
            branches.append((expression, body))
            guard let end else {
                throw TemplateError(file: file, line: line, message: "'{% if %}' is never closed: expected '{% endif %}'")
            }
            switch end.keyword {
            case "elif":
                currentCondition = end.rest
                currentLine = end.line
                continue
            case "else":
                let (elseBody, elseEnd) = try parseBlock(until: ["endif"])
                guard let elseEnd, elseEnd.keyword == "endif" else {
                    throw TemplateError(
                        file: file, line: elseEnd?.line ?? line,
                        message: elseEnd == nil
                            ? "'{% if %}' is never closed: expected '{% endif %}'"
                            : "unexpected '{% \(elseEnd!.keyword) %}' after '{% else %}'")
                }
                otherwise = elseBody
            default:
                break
            }
            return .conditional(branches, otherwise: otherwise)
        }
    }

    private func includeName(_ rest: String, line: Int) throws(TemplateError) -> String {
        let trimmed = rest.trimmingWhitespace()
        guard trimmed.count >= 2, let first = trimmed.first, first == "'" || first == "\"", trimmed.last == first else {
            throw TemplateError(file: file, line: line, message: "include expects a quoted file name, got '\(rest)'")
        }
        return String(trimmed.dropFirst().dropLast())
    }

    private static func split(_ source: String) -> (String, String) {
        let trimmed = source.trimmingWhitespace()
        guard let space = trimmed.firstIndex(where: \.isWhitespace) else { return (trimmed, "") }
        return (String(trimmed[..<space]), String(trimmed[space...]).trimmingWhitespace())
    }
}
