import Foundation

/// What a Dockerfile does to its base image when it runs nothing: files copied into one new
/// layer, and config changes (labels, environment, user, working directory, entrypoint,
/// command). Such a Dockerfile can be applied without buildah (the layer engine).
///
/// Only `FROM` (once, first), `COPY`, `ADD` of local files, `LABEL`, `ENV`, `USER`, `WORKDIR`,
/// `ENTRYPOINT` and `CMD` qualify; anything else, and anything whose result would depend on
/// the base image's files (variable expansion, a file copied onto a path that may be a
/// directory), makes the Dockerfile ``Ineligible``.
public struct LayerRecipe: Sendable, Equatable {
    public struct Copy: Sendable, Equatable {
        /// Paths relative to the build context.
        public var sources: [String]
        /// As written: absolute, or relative to the working directory.
        public var destination: String
        /// `--chmod=MODE` for every copied file and directory.
        public var mode: UInt32?
        /// The instruction as written, for errors.
        public var instruction: String
        public var line: Int
    }

    /// A command given in exec form (`["a", "b"]`) or shell form (`a b`).
    public enum Command: Sendable, Equatable {
        case exec([String])
        case shell(String)
    }

    public enum Step: Sendable, Equatable {
        case copy(Copy)
        case labels([KeyValue])
        case env([KeyValue])
        case user(String)
        case workdir(String)
        case entrypoint(Command)
        case cmd(Command)
    }

    public struct KeyValue: Sendable, Equatable {
        public var key: String
        public var value: String

        public init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
        }
    }

    /// Why a Dockerfile needs buildah.
    public struct Ineligible: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int?
        public var reason: String

        public var description: String {
            if let line { return "line \(line): \(reason)" }
            return reason
        }
    }

    public var steps: [Step] = []
    /// Every instruction after `FROM`, for the image's history.
    public var instructions: [String] = []

    /// Reads `dockerfile` (the text of `Dockerfile.modified`).
    public static func parse(_ dockerfile: String) throws(Ineligible) -> LayerRecipe {
        var recipe = LayerRecipe()
        var sawFrom = false
        let text = DockerfileText(dockerfile)
        if let line = text.escapeDirectiveLine {
            throw Ineligible(line: line, reason: "the escape parser directive needs buildah")
        }
        for instruction in text.instructions {
            let line = instruction.line
            func ineligible(_ reason: String) -> Ineligible { Ineligible(line: line, reason: reason) }
            if instruction.keyword == "FROM" {
                guard !sawFrom else { throw ineligible("a second FROM (multi-stage builds need buildah)") }
                sawFrom = true
                continue
            }
            guard sawFrom else { throw ineligible("\(instruction.keyword) before FROM") }
            if instruction.arguments.contains("$") {
                throw ineligible("\(instruction.keyword) uses '$' (variable expansion needs buildah)")
            }
            recipe.instructions.append("\(instruction.keyword) \(instruction.arguments)")
            switch instruction.keyword {
            case "COPY", "ADD":
                recipe.steps.append(.copy(try copy(instruction)))
            case "LABEL":
                recipe.steps.append(.labels(try keyValues(instruction)))
            case "ENV":
                recipe.steps.append(.env(try keyValues(instruction)))
            case "USER":
                let user = instruction.arguments.trimmingCharacters(in: .whitespaces)
                guard !user.isEmpty, !user.contains(where: \.isWhitespace) else { throw ineligible("USER expects one name or id") }
                recipe.steps.append(.user(user))
            case "WORKDIR":
                let directory = instruction.arguments.trimmingCharacters(in: .whitespaces)
                guard !directory.isEmpty else { throw ineligible("WORKDIR expects a path") }
                recipe.steps.append(.workdir(directory))
            case "ENTRYPOINT":
                recipe.steps.append(.entrypoint(command(instruction.arguments)))
            case "CMD":
                recipe.steps.append(.cmd(command(instruction.arguments)))
            case "RUN":
                throw ineligible("RUN needs buildah")
            default:
                throw ineligible("\(instruction.keyword) needs buildah")
            }
        }
        guard sawFrom else { throw Ineligible(line: nil, reason: "no FROM line") }
        return recipe
    }

    private static func copy(_ instruction: DockerfileInstruction) throws(Ineligible) -> Copy {
        let line = instruction.line
        var words: [String]
        var rest = instruction.arguments.trimmingCharacters(in: .whitespaces)
        var flags: [String] = []
        while rest.hasPrefix("--") {
            let end = rest.firstIndex(where: \.isWhitespace) ?? rest.endIndex
            flags.append(String(rest[..<end]))
            rest = String(rest[end...]).trimmingCharacters(in: .whitespaces)
        }
        if rest.hasPrefix("["), let array = jsonStrings(rest) {
            words = array
        } else {
            words = rest.split(whereSeparator: \.isWhitespace).map(String.init)
        }
        guard words.count >= 2 else {
            throw Ineligible(line: line, reason: "\(instruction.keyword) expects at least one source and a destination")
        }
        var copy = Copy(sources: Array(words.dropLast()), destination: words.last!,
                        instruction: "\(instruction.keyword) \(instruction.arguments)", line: line)
        for flag in flags {
            if flag.hasPrefix("--chown=") {
                // Root is what COPY gives anyway. Another owner is also given to the
                // directories COPY creates, and which ones it creates depends on the base
                // image's files.
                let owner = flag.dropFirst("--chown=".count).split(separator: ":", omittingEmptySubsequences: false)
                guard owner.allSatisfy({ $0 == "0" || $0 == "root" }), (1...2).contains(owner.count) else {
                    throw Ineligible(line: line, reason: "\(flag) needs buildah (the directories COPY creates get that owner too)")
                }
            } else if flag.hasPrefix("--chmod=") {
                guard let mode = UInt32(flag.dropFirst("--chmod=".count), radix: 8), mode <= 0o7777 else {
                    throw Ineligible(line: line, reason: "\(flag): expected an octal mode")
                }
                copy.mode = mode
            } else {
                throw Ineligible(line: line, reason: "\(instruction.keyword) \(flag) needs buildah")
            }
        }
        for source in copy.sources {
            if source.contains("://") || source.hasPrefix("git@") {
                throw Ineligible(line: line, reason: "\(instruction.keyword) of a URL needs buildah")
            }
            if source.contains(where: { "*?[".contains($0) }) {
                throw Ineligible(line: line, reason: "\(instruction.keyword) with a wildcard needs buildah")
            }
        }
        return copy
    }

    /// `LABEL a=b "c d"="e f"`, or the legacy `LABEL key value words`.
    private static func keyValues(_ instruction: DockerfileInstruction) throws(Ineligible) -> [KeyValue] {
        let text = instruction.arguments.trimmingCharacters(in: .whitespaces)
        let words: [String]
        do {
            words = try shellWords(text)
        } catch {
            throw Ineligible(line: instruction.line, reason: "\(instruction.keyword): \(error.reason)")
        }
        guard let first = words.first else {
            throw Ineligible(line: instruction.line, reason: "\(instruction.keyword) expects KEY=VALUE")
        }
        if !first.contains("=") {
            // Legacy form: the first word is the key, the rest of the line the value.
            guard let space = text.firstIndex(where: \.isWhitespace) else {
                throw Ineligible(line: instruction.line, reason: "\(instruction.keyword) \(first) has no value")
            }
            let value = text[space...].trimmingCharacters(in: .whitespaces)
            let unquoted = (try? shellWords(value)).map { $0.joined(separator: " ") } ?? value
            return [KeyValue(first, unquoted)]
        }
        var pairs: [KeyValue] = []
        for word in words {
            guard let equals = word.firstIndex(of: "="), equals != word.startIndex else {
                throw Ineligible(line: instruction.line, reason: "\(instruction.keyword) expects KEY=VALUE, got '\(word)'")
            }
            pairs.append(KeyValue(String(word[..<equals]), String(word[word.index(after: equals)...])))
        }
        return pairs
    }

    private static func command(_ arguments: String) -> Command {
        let text = arguments.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("["), let array = jsonStrings(text) { return .exec(array) }
        return .shell(text)
    }

    private static func jsonStrings(_ text: String) -> [String]? {
        guard let value = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else { return nil }
        return value as? [String]
    }

    struct QuoteError: Error {
        var reason: String
    }

    /// Splits on unquoted whitespace, removing quotes: "…" (with backslash escapes), '…'
    /// (literal), and backslash escapes outside quotes.
    static func shellWords(_ text: String) throws(QuoteError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            if let open = quote {
                if character == open {
                    quote = nil
                } else if character == "\\", open == "\"" {
                    escaped = true
                } else {
                    current.append(character)
                }
                continue
            }
            if character.isWhitespace {
                if inWord { words.append(current) }
                current = ""
                inWord = false
                continue
            }
            inWord = true
            switch character {
            case "\"", "'": quote = character
            case "\\": escaped = true
            default: current.append(character)
            }
        }
        if quote != nil { throw QuoteError(reason: "unterminated quote") }
        if inWord { words.append(current) }
        return words
    }
}
