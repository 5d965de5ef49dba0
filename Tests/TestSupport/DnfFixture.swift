import Foundation
import XCTest

/// A Debian trixie image with rpm, dnf and pip (mmdebstrap, ~30–60 s, from the
/// Debian archive; the tarball is cached in the temporary directory for
/// later runs) and a local RPM repository served over HTTP on 127.0.0.1, for
/// the yum tasks.
public final class DnfFixture: @unchecked Sendable {
    public let image = "localhost/imageprep-test/dnf-base:trixie"
    public let repository: URL
    public let reposDirectory: URL
    public let port: Int
    private let server: Process

    public init(buildah: BuildahFixture) throws {
        for tool in ["/usr/bin/mmdebstrap", "/usr/bin/createrepo_c"] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw XCTSkip("\(tool) is not installed (apt-get install mmdebstrap createrepo-c)")
        }
        let tarball = FileManager.default.temporaryDirectory.appendingPathComponent("imageprep-dnf-pip-base-trixie.tar")
        if !FileManager.default.fileExists(atPath: tarball.path) {
            // mmdebstrap picks its output format from the name: keep .tar last.
            let partial = tarball.deletingPathExtension().path + ".partial.tar"
            try BuildahFixture.run("/usr/bin/mmdebstrap", ["--quiet", "--variant=essential", "--include=rpm,dnf,python3-pip,python3-setuptools", "trixie", partial])
            try FileManager.default.moveItem(atPath: partial, toPath: tarball.path)
        }
        let container = try buildah.buildah(["from", "scratch"]).trimmingCharacters(in: .whitespacesAndNewlines)
        try buildah.buildah(["add", container, tarball.path, "/"])
        // rpm >= 4.19 runs scriptlets in a namespace that a chroot build can't
        // make, and dnf still reports success: turn that off.
        let macros = buildah.directory.appendingPathComponent("macros.no-unshare")
        try "%__transaction_unshare %{nil}\n".write(to: macros, atomically: true, encoding: .utf8)
        try buildah.buildah(["copy", container, macros.path, "/etc/rpm/macros.no-unshare"])
        try buildah.buildah(["config", "--user", "nobody", "--label", "rdo_version=dnf-test", container])
        try buildah.buildah(["commit", "--rm", container, image])

        repository = buildah.directory.appendingPathComponent("repo")
        reposDirectory = buildah.directory.appendingPathComponent("yum.repos.d")
        try FileManager.default.createDirectory(at: repository, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: reposDirectory, withIntermediateDirectories: true)
        port = try RegistryServer.freePort()
        server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = ["-m", "http.server", "--bind", "127.0.0.1", "--directory", repository.path, String(port)]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        try """
            [imageprep-test]
            name=imageprep test packages
            baseurl=http://127.0.0.1:\(port)/
            enabled=1
            gpgcheck=0
            metadata_expire=0

            """.write(to: reposDirectory.appendingPathComponent("imageprep-test.repo"), atomically: true, encoding: .utf8)
    }

    /// Puts these RPMs (only) in the repository and regenerates its metadata.
    public func publish(_ rpms: [String]) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: repository.path) {
            try FileManager.default.removeItem(at: repository.appendingPathComponent(name))
        }
        for rpm in rpms {
            try FileManager.default.copyItem(atPath: rpm, toPath: repository.appendingPathComponent(URL(fileURLWithPath: rpm).lastPathComponent).path)
        }
        try BuildahFixture.run("/usr/bin/createrepo_c", ["--quiet", repository.path])
    }

    public func stop() {
        if server.isRunning {
            server.terminate()
            server.waitUntilExit()
        }
    }
}
