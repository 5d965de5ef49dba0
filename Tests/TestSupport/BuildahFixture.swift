import Crypto
import Foundation
import XCTest

/// A private buildah storage (vfs, chroot isolation) with a small base image
/// that has busybox and a working rpm, user `nova` and an `rdo_version`
/// label, built from `scripts/make-rpm-base-rootfs` without any network.
public final class BuildahFixture: @unchecked Sendable {
    public let directory: URL
    public var root: String { directory.appendingPathComponent("root").path }
    public var runRoot: String { directory.appendingPathComponent("runroot").path }
    public let baseImage = "localhost/imageprep-test/rpm-base:1"

    public init() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/buildah") else {
            throw XCTSkip("buildah is not installed (apt-get install buildah)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-buildah-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let rootfs = directory.appendingPathComponent("rootfs").path
        try Self.run("/bin/bash", [CLI.packageRoot.appendingPathComponent("scripts/make-rpm-base-rootfs").path, rootfs])
        let container = try buildah(["from", "scratch"]).trimmingCharacters(in: .whitespacesAndNewlines)
        try buildah(["copy", container, rootfs + "/", "/"])
        try buildah(["config", "--user", "nova", "--label", "rdo_version=1.0-test", "--cmd", "/bin/sh", container])
        try buildah(["commit", "--rm", container, baseImage])
        try? FileManager.default.removeItem(atPath: rootfs)
    }

    @discardableResult
    public func buildah(_ arguments: [String]) throws -> String {
        try Self.run("/usr/bin/buildah", ["--root", root, "--runroot", runRoot, "--storage-driver", "vfs"] + arguments)
    }

    /// Pulls the image of an OCI layout (tag `latest`) into the storage and
    /// names it `name`.
    public func importLayout(_ layout: URL, as name: String) throws {
        let output = try buildah(["pull", "--quiet", "oci:\(layout.path):latest"])
        let id = output.split(separator: "\n").last.map(String.init) ?? ""
        try buildah(["tag", id, name])
    }

    /// Runs a command in a container of `image` and returns its output.
    public func run(in image: String, user: String? = nil, _ command: [String]) throws -> String {
        let container = try buildah(["from", "--pull-never", image]).trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? buildah(["rm", container]) }
        return try buildah(["run", "--isolation", "chroot"] + (user.map { ["--user", $0] } ?? []) + [container, "--"] + command)
    }

    /// What the file tree of `image` (pulled from a registry) holds, path by path: type, mode,
    /// owner, and content digest or link target.
    public func fileTree(of image: String) throws -> [String: String] {
        try buildah(["pull", "--quiet", "--tls-verify=false", image])
        let container = try buildah(["from", "--pull-never", image]).trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? buildah(["rm", container]) }
        let root = try buildah(["mount", container]).trimmingCharacters(in: .whitespacesAndNewlines)
        var entries: [String: String] = [:]
        func walk(_ relative: String) throws {
            let path = root + relative
            for name in try FileManager.default.contentsOfDirectory(atPath: path) {
                let child = relative + "/" + name
                let attributes = try FileManager.default.attributesOfItem(atPath: root + child)
                let mode = String((attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1, radix: 8)
                let owner = "\(attributes[.ownerAccountID] ?? "?"):\(attributes[.groupOwnerAccountID] ?? "?")"
                switch attributes[.type] as? FileAttributeType {
                case .typeDirectory?:
                    entries[child] = "dir \(mode) \(owner)"
                    try walk(child)
                case .typeSymbolicLink?:
                    entries[child] = "link \(owner) -> \(try FileManager.default.destinationOfSymbolicLink(atPath: root + child))"
                case .typeRegular?:
                    let content = try Data(contentsOf: URL(fileURLWithPath: root + child))
                    let digest = SHA256.hash(data: content).map { String(format: "%02x", $0) }.joined()
                    entries[child] = "file \(mode) \(owner) \(content.count) sha256:\(digest)"
                default:
                    entries[child] = "other \(mode) \(owner)"
                }
            }
        }
        try walk("")
        return entries
    }

    public func remove() {
        _ = try? buildah(["rm", "--all"])
        _ = try? Self.run("/bin/sh", ["-c", "umount -R '\(directory.path)' 2>/dev/null; true"])
        try? FileManager.default.removeItem(at: directory)
    }

    @discardableResult
    public static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let result = try CLI.runProcess(URL(fileURLWithPath: executable), arguments)
        guard result.status == 0 else {
            throw NSError(domain: "command", code: Int(result.status), userInfo: [
                NSLocalizedDescriptionKey: "\(executable) \(arguments.joined(separator: " ")) failed: \(result.stderr)",
            ])
        }
        return result.stdout
    }
}
