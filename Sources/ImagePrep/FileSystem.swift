import Foundation

/// Reading input files and writing output files whole: an output is written
/// to a temporary file beside it and renamed into place, so a failed run
/// leaves the old file as it was.
enum FileSystem {
    static func readText(_ path: String) throws(PrepareError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PrepareError.unreadable(path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw PrepareError.unreadable(path: path, reason: "is a directory, expected a file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PrepareError.unreadable(path: path, reason: "permission denied or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PrepareError.unreadable(path: path, reason: "not UTF-8 text")
        }
        return text
    }

    static func writeAtomically(_ text: String, to path: String) throws(PrepareError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PrepareError.unwritable(path: path, reason: "directory \(directory) does not exist")
        }
        let temporary = directory + "/.\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8)) else {
            throw PrepareError.unwritable(path: path, reason: "cannot create a file in \(directory)")
        }
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw PrepareError.unwritable(path: path, reason: reason)
        }
    }

    /// The YAML files of an environment directory, sorted by name.
    static func environmentFiles(in directory: String) throws(PrepareError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PrepareError.unreadable(path: directory, reason: "no such directory")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw PrepareError.unreadable(path: directory, reason: "cannot list the directory")
        }
        // tripleoclient reads `*.yaml` only, in ascending order.
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { directory + "/" + $0 }
    }
}
