import Foundation

/// A directory of hotfix RPMs (`rpms_path`): its `*.rpm` files in name order,
/// each one's header read, so a file that is no RPM is refused before a
/// build or a plan uses it.
public struct RPMDirectory: Sendable {
    public let path: String
    public let packages: [(file: String, package: RPMPackage)]

    /// `key` names the setting the directory came from, for errors.
    public init(path: String, key: String = "rpms_path") throws(RPMDirectoryError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .notADirectory(key: key, path: path)
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".rpm") }.sorted()
        } catch {
            throw .unreadable(key: key, path: path)
        }
        guard !names.isEmpty else { throw .noRPMs(key: key, path: path) }
        var packages: [(file: String, package: RPMPackage)] = []
        for name in names {
            let file = URL(fileURLWithPath: path).appendingPathComponent(name).path
            do {
                packages.append((file, try RPMPackage.read(path: file)))
            } catch {
                throw .notAnRPM(error)
            }
        }
        self.path = path
        self.packages = packages
    }

    /// The paths of the RPM files.
    public var files: [String] { packages.map(\.file) }
}

public enum RPMDirectoryError: Error, Sendable, Equatable, CustomStringConvertible {
    case notADirectory(key: String, path: String)
    case unreadable(key: String, path: String)
    case noRPMs(key: String, path: String)
    case notAnRPM(RPMError)

    public var description: String {
        switch self {
        case .notADirectory(let key, let path): return "\(key) \(path) is not a directory"
        case .unreadable(let key, let path): return "\(key) \(path) cannot be listed"
        case .noRPMs(let key, let path): return "\(key) \(path) has no *.rpm files"
        case .notAnRPM(let error): return "\(error)"
        }
    }
}
