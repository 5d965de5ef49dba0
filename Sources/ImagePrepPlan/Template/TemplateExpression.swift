/// The expressions the catalog templates use: variables, string, number and
/// boolean literals, `==`/`!=`, `not`/`and`/`or`, parentheses and the
/// `default(value)` filter.
indirect enum TemplateExpression: Sendable, Equatable {
    case variable(String)
    case literal(TemplateValue)
    case equal(TemplateExpression, TemplateExpression)
    case notEqual(TemplateExpression, TemplateExpression)
    case not(TemplateExpression)
    case and(TemplateExpression, TemplateExpression)
    case or(TemplateExpression, TemplateExpression)
    case defaulted(TemplateExpression, TemplateExpression)

    func evaluate(in context: TemplateContext) -> TemplateValue {
        switch self {
        case .variable(let name): return context[name] ?? .undefined
        case .literal(let value): return value
        case .equal(let a, let b): return .bool(Self.equal(a.evaluate(in: context), b.evaluate(in: context)))
        case .notEqual(let a, let b): return .bool(!Self.equal(a.evaluate(in: context), b.evaluate(in: context)))
        case .not(let a): return .bool(!a.evaluate(in: context).isTruthy)
        case .and(let a, let b):
            let left = a.evaluate(in: context)
            return left.isTruthy ? b.evaluate(in: context) : left
        case .or(let a, let b):
            let left = a.evaluate(in: context)
            return left.isTruthy ? left : b.evaluate(in: context)
        case .defaulted(let value, let fallback):
            let v = value.evaluate(in: context)
            return v == .undefined ? fallback.evaluate(in: context) : v
        }
    }

    /// The variable an output expression names, for errors.
    var variableName: String? {
        switch self {
        case .variable(let name): name
        case .defaulted(let value, _): value.variableName
        default: nil
        }
    }

    private static func equal(_ a: TemplateValue, _ b: TemplateValue) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined): true
        case (.undefined, _), (_, .undefined): false
        default: a == b
        }
    }
}

struct TemplateExpressionParser {
    enum Token: Equatable {
        case name(String)
        case string(String)
        case number(String)
        case symbol(String)
    }

    let file: String
    let line: Int
    private var tokens: [Token] = []
    private var position = 0
    /// Parentheses, `not`s and `default(...)` arguments open so far.
    private var nesting = 0

    /// Bounds on what a template may ask of the parser and of the
    /// recursive evaluation: far beyond any catalog, well within the stack.
    static let maximumTokens = 1000
    static let maximumNesting = 32

    init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    mutating func parse(_ source: String) throws(TemplateError) -> TemplateExpression {
        tokens = try tokenize(source)
        position = 0
        nesting = 0
        guard !tokens.isEmpty else { throw failure("expected an expression") }
        guard tokens.count <= Self.maximumTokens else {
            throw failure("expression longer than \(Self.maximumTokens) tokens")
        }
        let expression = try parseOr()
        if position < tokens.count { throw failure("unexpected '\(describe(tokens[position]))' in '\(source)'") }
        return expression
    }

    private func failure(_ message: String) -> TemplateError {
        TemplateError(file: file, line: line, message: message)
    }

    private func describe(_ token: Token) -> String {
        switch token {
        case .name(let s), .number(let s), .symbol(let s): s
        case .string(let s): "\"\(s)\""
        }
    }

    private func tokenize(_ source: String) throws(TemplateError) -> [Token] {
        var result: [Token] = []
        let chars = Array(source)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace {
                i += 1
            } else if c.isLetter || c == "_" {
                var j = i
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                result.append(.name(String(chars[i..<j])))
                i = j
            } else if c.isNumber {
                var j = i
                while j < chars.count, chars[j].isNumber || chars[j] == "." { j += 1 }
                result.append(.number(String(chars[i..<j])))
                i = j
            } else if c == "\"" || c == "'" {
                var j = i + 1
                var value = ""
                while j < chars.count, chars[j] != c {
                    if chars[j] == "\\", j + 1 < chars.count { j += 1 }
                    value.append(chars[j])
                    j += 1
                }
                guard j < chars.count else { throw failure("unterminated string in '\(source)'") }
                result.append(.string(value))
                i = j + 1
            } else if i + 1 < chars.count, ["==", "!="].contains(String(chars[i...i + 1])) {
                result.append(.symbol(String(chars[i...i + 1])))
                i += 2
            } else if "|()".contains(c) {
                result.append(.symbol(String(c)))
                i += 1
            } else {
                throw failure("unexpected character '\(c)' in '\(source)'")
            }
        }
        return result
    }

    private mutating func nest() throws(TemplateError) {
        nesting += 1
        guard nesting <= Self.maximumNesting else {
            throw failure("expression nested more than \(Self.maximumNesting) deep")
        }
    }

    private mutating func take(_ token: Token) -> Bool {
        if position < tokens.count, tokens[position] == token {
            position += 1
            return true
        }
        return false
    }

    private mutating func parseOr() throws(TemplateError) -> TemplateExpression {
        try nest()
        defer { nesting -= 1 }
        var left = try parseAnd()
        while take(.name("or")) { left = .or(left, try parseAnd()) }
        return left
    }

    private mutating func parseAnd() throws(TemplateError) -> TemplateExpression {
        var left = try parseNot()
        while take(.name("and")) { left = .and(left, try parseNot()) }
        return left
    }

    private mutating func parseNot() throws(TemplateError) -> TemplateExpression {
        if take(.name("not")) {
            try nest()
            defer { nesting -= 1 }
            return .not(try parseNot())
        }
        return try parseComparison()
    }

    private mutating func parseComparison() throws(TemplateError) -> TemplateExpression {
        let left = try parseFiltered()
        if take(.symbol("==")) { return .equal(left, try parseFiltered()) }
        if take(.symbol("!=")) { return .notEqual(left, try parseFiltered()) }
        return left
    }

    private mutating func parseFiltered() throws(TemplateError) -> TemplateExpression {
        var value = try parsePrimary()
        while take(.symbol("|")) {
            guard position < tokens.count, case .name(let filter) = tokens[position] else {
                throw failure("expected a filter name after '|'")
            }
            position += 1
            guard filter == "default" || filter == "d" else {
                throw failure("unsupported filter '\(filter)' (imageprep templates support 'default')")
            }
            var fallback = TemplateExpression.literal(.string(""))
            if take(.symbol("(")) {
                if !take(.symbol(")")) {
                    fallback = try parseOr()
                    guard take(.symbol(")")) else { throw failure("expected ')' to close default(...)") }
                }
            }
            value = .defaulted(value, fallback)
        }
        return value
    }

    private mutating func parsePrimary() throws(TemplateError) -> TemplateExpression {
        guard position < tokens.count else { throw failure("expression ends too early") }
        let token = tokens[position]
        position += 1
        switch token {
        case .string(let s): return .literal(.string(s))
        case .number(let n): return .literal(.string(n))
        case .name(let name):
            switch name {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.null)
            case "and", "or", "not", "if", "else": throw failure("unexpected '\(name)'")
            default: return .variable(name)
            }
        case .symbol("("):
            let inner = try parseOr()
            guard take(.symbol(")")) else { throw failure("expected ')'") }
            return inner
        case .symbol(let s):
            throw failure("unexpected '\(s)'")
        }
    }
}
