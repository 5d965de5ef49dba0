/// Writes `Dockerfile.modified` from an operator's Dockerfile: the first
/// `FROM` (the base of a multi-stage build) points at the source image and a
/// `LABEL modified_append_tag=...` follows it. Later stages are left alone.
public enum DockerfileRewriter {
    public enum Failure: Error, Equatable {
        case noFrom
    }

    public static func modified(_ dockerfile: String, sourceImage: String, appendTag: String) throws(Failure) -> String {
        var lines = dockerfile.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var index = 0
        while index < lines.count {
            let trimmed = lines[index].trimmingLeadingSpaces()
            if trimmed.uppercased().hasPrefix("FROM ") || trimmed.uppercased().hasPrefix("FROM\t") {
                break
            }
            index += 1
        }
        guard index < lines.count else { throw .noFrom }
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
}

extension String {
    func trimmingLeadingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }))
    }
}
