import Foundation
import XCTest

/// Real RPMs built with rpmbuild for the tests, once per test run.
public enum RPMFixtures {
    public struct Built {
        public var directory: URL
        /// hotfix 1.0-1, noarch, gzip payload.
        public var old: String
        /// hotfix 1.1-2, noarch, zstd payload, epoch 3.
        public var new: String
        /// hotfix-tool 2.0-1 for x86_64.
        public var arch: String
        /// needs-missing 1.0-1, noarch, requiring a package no image has:
        /// its installation fails.
        public var unsatisfiable: String
        /// hotfix 1.2-1 built for aarch64: not installable in amd64 images.
        public var foreign: String
    }

    nonisolated(unsafe) private static var built: Built?
    private static let lock = NSLock()

    /// Removes the built RPMs; call from a test class's `tearDown()`.
    public static func remove() {
        lock.lock()
        defer { lock.unlock() }
        if let built { try? FileManager.default.removeItem(at: built.directory) }
        built = nil
    }

    public static func build() throws -> Built {
        lock.lock()
        defer { lock.unlock() }
        if let built { return built }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/rpmbuild") else {
            throw XCTSkip("rpmbuild is not installed (apt-get install rpm)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-rpms-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let old = try rpmbuild(in: directory, name: "hotfix", epoch: nil, version: "1.0", release: "1", arch: "noarch", content: "hotfix 1.0\n", zstd: false)
        let new = try rpmbuild(in: directory, name: "hotfix", epoch: 3, version: "1.1", release: "2", arch: "noarch", content: "hotfix 1.1 fixed\n", zstd: true)
        let arch = try rpmbuild(in: directory, name: "hotfix-tool", epoch: nil, version: "2.0", release: "1", arch: "x86_64", content: "tool\n", zstd: false)
        let unsatisfiable = try rpmbuild(
            in: directory, name: "needs-missing", epoch: nil, version: "1.0", release: "1", arch: "noarch", content: "x\n", zstd: false,
            requires: "imageprep-no-such-package")
        let foreign = try rpmbuild(in: directory, name: "hotfix", epoch: nil, version: "1.2", release: "1", arch: "aarch64", content: "arm\n", zstd: false)
        let result = Built(directory: directory, old: old, new: new, arch: arch, unsatisfiable: unsatisfiable, foreign: foreign)
        built = result
        return result
    }

    private static func rpmbuild(
        in directory: URL, name: String, epoch: Int?, version: String, release: String, arch: String, content: String, zstd: Bool,
        requires: String? = nil
    ) throws -> String {
        let spec = """
            Name: \(name)
            \(epoch.map { "Epoch: \($0)" } ?? "")
            Version: \(version)
            Release: \(release)
            Summary: imageprep test package \(name) \(version)
            License: MIT
            \(arch == "noarch" ? "BuildArch: noarch" : "")
            AutoReqProv: no
            \(requires.map { "Requires: \($0)" } ?? "")

            %description
            A package for imageprep's tests.

            %install
            mkdir -p %{buildroot}/usr/share/\(name)
            printf '\(content.replacingOccurrences(of: "\n", with: "\\n"))' > %{buildroot}/usr/share/\(name)/VERSION
            ln -s VERSION %{buildroot}/usr/share/\(name)/CURRENT

            %files
            /usr/share/\(name)/VERSION
            /usr/share/\(name)/CURRENT
            """
        return try rpmbuild(spec: spec, name: name, arch: arch, in: directory, zstd: zstd)
    }

    /// hotfix-post 1.0-1, noarch, with a `%post` scriptlet (in rpm's built-in Lua, so it needs no
    /// shell in the image), built into `directory`; returns its path.
    public static func withPostScriptlet(in directory: URL) throws -> String {
        try rpmbuild(spec: """
            Name: hotfix-post
            Version: 1.0
            Release: 1
            Summary: imageprep test package with a scriptlet
            License: MIT
            BuildArch: noarch
            AutoReqProv: no

            %description
            A package for imageprep's tests.

            %install
            mkdir -p %{buildroot}/usr/share/hotfix-post
            echo post > %{buildroot}/usr/share/hotfix-post/VERSION

            %files
            /usr/share/hotfix-post/VERSION

            %post -p <lua>
            print("hotfix-post installed")
            """, name: "hotfix-post", in: directory)
    }

    /// python3-pip 99.0-1, noarch: a `pip3` command running the image's own pip module, for
    /// an image that lost its pip command (no network needed to "install pip"); built into
    /// `directory`; returns its path.
    public static func pipCommand(in directory: URL) throws -> String {
        try rpmbuild(spec: """
            Name: python3-pip
            Version: 99.0
            Release: 1
            Summary: pip3 for imageprep's tests
            License: MIT
            BuildArch: noarch
            AutoReqProv: no

            %description
            pip3 for imageprep's tests.

            %install
            mkdir -p %{buildroot}/usr/bin
            printf '#!/bin/sh\\nexec python3 -m pip "$@"\\n' > %{buildroot}/usr/bin/pip3
            chmod 755 %{buildroot}/usr/bin/pip3

            %files
            /usr/bin/pip3
            """, name: "python3-pip", in: directory)
    }

    /// Builds the RPM `spec` describes (package `name` for `arch`) and copies it into
    /// `directory`; returns its path.
    public static func rpmbuild(spec: String, name: String, arch: String = "noarch", in directory: URL, zstd: Bool = false) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/rpmbuild") else {
            throw XCTSkip("rpmbuild is not installed (apt-get install rpm)")
        }
        let top = directory.appendingPathComponent("build-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: top.appendingPathComponent("SPECS"), withIntermediateDirectories: true)
        let specPath = top.appendingPathComponent("SPECS/\(name).spec")
        try spec.write(to: specPath, atomically: true, encoding: .utf8)
        var arguments = [
            "-bb", "--define", "_topdir \(top.path)", "--define", "_build_id_links none",
            "--define", "__os_install_post %{nil}", "--target", arch,
        ]
        if zstd { arguments += ["--define", "_binary_payload w19.zstdio"] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/rpmbuild")
        process.arguments = arguments + [specPath.path]
        let log = top.appendingPathComponent("rpmbuild.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "rpmbuild", code: Int(process.terminationStatus), userInfo: [
                NSLocalizedDescriptionKey: (try? String(contentsOf: log, encoding: .utf8)) ?? "rpmbuild failed",
            ])
        }
        let rpms = top.appendingPathComponent("RPMS/\(arch)")
        let file = try FileManager.default.contentsOfDirectory(atPath: rpms.path).first { $0.hasSuffix(".rpm") }
        let destination = directory.appendingPathComponent(try XCTUnwrap(file))
        try FileManager.default.copyItem(at: rpms.appendingPathComponent(try XCTUnwrap(file)), to: destination)
        try FileManager.default.removeItem(at: top)
        return destination.path
    }
}
