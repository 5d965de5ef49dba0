import Foundation
import ImagePrepConcurrency
import ImagePrepFiles
import ImagePrepBuild
import ImagePrepOCI
import ImagePrepRegistry

/// The run's logins and private CA, written for one buildah build: a directory only root can
/// enter (0700) holding `auth.json` (0600; the containers auth file format, every credential
/// the run has: `ContainerImageRegistryCredentials`, `--authfile` and the containers auth
/// files) and `certs/ca.crt` (the `--ca-cert` file, where containers-image looks for CA
/// certificates). Removed once the build is pushed; nothing goes on a command line but the
/// two paths. The directory is named for the run (`imageprep-access-PID-…`): a signal that
/// ends the run removes it, and so does the next run when this one was killed.
struct BuildahLogins {
    let directory: URL
    let access: RegistryAccess

    /// Nil when the run has neither credentials nor a CA file.
    static func write(credentials: CredentialStore, caFile: String?, in workDirectory: URL) throws(PrepareError) -> BuildahLogins? {
        let entries = credentials.all
        guard !entries.isEmpty || caFile != nil else { return nil }
        // Named for the run: removed on SIGTERM/SIGINT/SIGHUP, and by the next run if this one dies.
        let directory = URL(fileURLWithPath: RunTemporaries.newPath(in: workDirectory.path, prefix: "imageprep-access-"))
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw PrepareError.unwritable(path: workDirectory.path, reason: "cannot create a private directory for buildah's logins")
        }
        let logins = BuildahLogins(directory: directory, access: RegistryAccess())
        var access = RegistryAccess()
        do throws(PrepareError) {
            if !entries.isEmpty {
                let file = directory.appendingPathComponent("auth.json")
                try writePrivately(authJSON(entries), to: file.path)
                access.authFile = file.path
            }
            if let caFile {
                guard let pem = FileManager.default.contents(atPath: caFile) else {
                    throw PrepareError.unreadable(path: caFile, reason: "no such file or not readable")
                }
                let certs = directory.appendingPathComponent("certs")
                try? FileManager.default.createDirectory(at: certs, withIntermediateDirectories: true)
                try writePrivately(pem, to: certs.appendingPathComponent("ca.crt").path)
                access.certDirectory = certs.path
            }
        } catch {
            logins.remove()
            throw error
        }
        return BuildahLogins(directory: directory, access: access)
    }

    func remove() {
        RunTemporaries.release(directory.path)
    }

    /// `{"auths": {registry: {"auth": base64(user:password)}}}`, Docker Hub as `docker.io`.
    static func authJSON(_ entries: [String: Credentials]) -> Data {
        var auths: [String: [String: String]] = [:]
        for (key, credentials) in entries {
            var name = key
            if name == Reference.dockerHubRegistry || name.hasPrefix(Reference.dockerHubRegistry + "/") {
                name = "docker.io" + name.dropFirst(Reference.dockerHubRegistry.count)
            }
            auths[name] = ["auth": Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString()]
        }
        return (try? JSONSerialization.data(withJSONObject: ["auths": auths], options: [.sortedKeys])) ?? Data()
    }

    /// Creates `path` with mode 0600 (never readable by others, not even for a moment) and
    /// writes `data` to it.
    private static func writePrivately(_ data: Data, to path: String) throws(PrepareError) {
        do {
            try DurableFile.createNew(atPath: path, with: data, mode: 0o600)
        } catch {
            throw PrepareError.unwritable(path: path, reason: error.reason)
        }
    }
}
