/// Writes `Dockerfile.modified` from an operator's Dockerfile: the last
/// `FROM` (the final stage of a multi-stage build, as the role's
/// `lineinfile` acts on the last match) points at the source image and a
/// `LABEL modified_append_tag=...` follows it. Earlier stages are left alone.
public enum DockerfileRewriter {
    public enum Failure: Error, Equatable {
        case noFrom
    }

    public static func modified(_ dockerfile: String, sourceImage: String, appendTag: String) throws(Failure) -> String {
        var lines = dockerfile.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let index = fromIndex(lines) else { throw .noFrom }
        // Keep flags (--platform=...) and the stage name (AS name).
        var words = lines[index].trimmingLeadingSpaces().split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var imagePosition = 1
        while imagePosition < words.count, words[imagePosition].hasPrefix("--") { imagePosition += 1 }
        if imagePosition < words.count {
            words[imagePosition] = sourceImage
        } else {
            words.append(sourceImage)
        }
        lines[index] = words.joined(separator: " ")
        lines.insert("LABEL modified_append_tag=\(appendTag)", at: index + 1)
        return lines.joined(separator: "\n")
    }

    /// The line of the operator's Dockerfile that `line` of `Dockerfile.modified` came from
    /// (the lines after the inserted `LABEL` move down by one).
    public static func originalLine(_ line: Int, in dockerfile: String) -> Int {
        let lines = dockerfile.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let index = fromIndex(lines) else { return line }
        // 1-based: the FROM is line index + 1, the inserted LABEL line index + 2.
        return line > index + 2 ? line - 1 : line
    }

    /// The index of the last `FROM` instruction's first line.
    private static func fromIndex(_ lines: [String]) -> Int? {
        DockerfileText(lines.joined(separator: "\n")).lastFrom.map { $0.line - 1 }
    }
}
