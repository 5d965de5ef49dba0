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
}
