import Foundation

/// Finds the project's `dockerfiles/` and `hooks/`: `$IMAGEPREP_DATA_DIR`,
/// then `share/imageprep` beside the binary's folder, then the source tree the
/// binary was built from.
public enum ProjectFiles {
    public static func dataDirectory() throws(BuildError) -> URL {
        var candidates: [URL] = []
        if let dir = ProcessInfo.processInfo.environment["IMAGEPREP_DATA_DIR"] {
            candidates.append(URL(fileURLWithPath: dir))
        }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(executable.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("share/imageprep"))
        candidates.append(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent())
        for candidate in candidates
        where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("dockerfiles").path)
            && FileManager.default.fileExists(atPath: candidate.appendingPathComponent("hooks").path)
        {
            return candidate
        }
        throw BuildError(
            image: "-", step: "setup",
            message: "cannot find imageprep's dockerfiles/ and hooks/ (looked in \(candidates.map(\.path).joined(separator: ", "))); set IMAGEPREP_DATA_DIR")
    }
}
