import Foundation

/// Finds imageprep's data files, `dockerfiles/` and `hooks/`.
///
/// In order: `$IMAGEPREP_DATA_DIR` (an override: when set, the only place
/// looked in); `share/imageprep` beside the folder of the running binary (an
/// installed prefix, wherever it was moved); and, for a binary built inside a
/// source tree (`<tree>/.build*/…`), that tree. An installed binary never
/// looks into the tree it was compiled from.
public enum ProjectFiles {
    public static let environmentVariable = "IMAGEPREP_DATA_DIR"

    public static func dataDirectory() throws(ContextError) -> URL {
        try dataDirectory(
            environment: ProcessInfo.processInfo.environment, executable: runningExecutable())
    }

    /// The lookup, given the environment and the running binary's path.
    public static func dataDirectory(environment: [String: String], executable: URL) throws(ContextError) -> URL {
        let candidates = places(environment: environment, executable: executable)
        if let found = candidates.first(where: holdsData) { return found }
        let looked = candidates.map(\.path).joined(separator: ", ")
        let message =
            override(environment).map { "\(environmentVariable)=\($0) holds no dockerfiles/ and hooks/" }
            ?? "cannot find imageprep's dockerfiles/ and hooks/ (looked in \(looked)); reinstall imageprep or set \(environmentVariable) to the folder that holds them"
        throw ContextError(message)
    }

    /// The places looked in, in order.
    static func places(environment: [String: String], executable: URL) -> [URL] {
        if let override = override(environment) { return [URL(fileURLWithPath: override)] }
        let binFolder = executable.deletingLastPathComponent()
        var places = [binFolder.deletingLastPathComponent().appendingPathComponent("share/imageprep")]
        if let tree = sourceTree(containing: binFolder) { places.append(tree) }
        return places
    }

    static func override(_ environment: [String: String]) -> String? {
        environment[environmentVariable].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The source tree of a development build: the parent of the innermost
    /// `.build*` folder on the binary's path, when it holds `Package.swift`.
    static func sourceTree(containing folder: URL) -> URL? {
        var current = folder.standardizedFileURL
        while current.pathComponents.count > 1 {
            if current.lastPathComponent.hasPrefix(".build") {
                let tree = current.deletingLastPathComponent()
                let manifest = tree.appendingPathComponent("Package.swift").path
                return FileManager.default.fileExists(atPath: manifest) ? tree : nil
            }
            current = current.deletingLastPathComponent()
        }
        return nil
    }

    static func holdsData(_ folder: URL) -> Bool {
        ["dockerfiles", "hooks"].allSatisfy { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path, isDirectory: &isDirectory)
                && isDirectory.boolValue
        }
    }

    /// The running binary, symbolic links resolved (`/proc/self/exe` where
    /// there is one: `argv[0]` may be a bare name found through `PATH`).
    static func runningExecutable() -> URL {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        if let url = Bundle.main.executableURL { return url.resolvingSymlinksInPath() }
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    }
}
