import Foundation

/// Runs an `AnsiblePlaybook` with `ansible-playbook` on localhost, as tripleo-common's
/// `run_modify_playbook` does: the playbook in a private directory (0700) the caller names,
/// the roles path in `ANSIBLE_ROLES_PATH`, the run's logins as `REGISTRY_AUTH_FILE` (a path,
/// never a credential on a command line) and buildah's storage options as the containers
/// storage environment. The full output goes to `ansible.log` in that directory.
public struct AnsibleRunner: Sendable {
    public var rolesPath: [String]
    public var access: RegistryAccess
    public var buildah: Buildah
    /// The `ansible-playbook` to run; nil when the host has none.
    public var ansiblePlaybook: String?

    public init(
        rolesPath: [String], access: RegistryAccess = RegistryAccess(), buildah: Buildah = Buildah(),
        ansiblePlaybook: String? = AnsibleRunner.executable()
    ) {
        self.rolesPath = rolesPath
        self.access = access
        self.buildah = buildah
        self.ansiblePlaybook = ansiblePlaybook
    }

    /// `ansible-playbook` on `PATH`, or nil.
    public static func executable(path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        for directory in (path ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/ansible-playbook"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs the playbook in `directory` (created 0700) and checks the role left
    /// `playbook.modifiedImage` in containers-storage; returns that image. `image` names the
    /// source in errors.
    public func run(_ playbook: AnsiblePlaybook, image: String, in directory: URL) async throws(BuildError)
        -> Buildah.LocalImage
    {
        let step = "modify_role \(playbook.role)"
        guard let ansible = ansiblePlaybook else {
            throw BuildError(image: image, step: step, message: AnsiblePlaybook.ansibleMissing)
        }
        guard AnsiblePlaybook.findRole(playbook.role, in: rolesPath) != nil else {
            throw BuildError(image: image, step: step, message: AnsiblePlaybook.roleNotFound(playbook.role, searched: rolesPath))
        }
        let file = directory.appendingPathComponent("playbook.yaml")
        let log = directory.appendingPathComponent("ansible.log")
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try Data(playbook.text.utf8).write(to: file)
        } catch {
            throw BuildError(image: image, step: step, message: "cannot write the playbook in \(directory.path): \(error)")
        }
        let environment = playbookEnvironment(in: directory)
        do {
            try await CommandRunner.logged(
                ansible, ["-i", "localhost,", "-c", "local", file.path], name: "ansible-playbook", log: log,
                environment: environment)
        } catch let failure as CommandRunner.Failure {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? failure.output
            if let (task, message) = AnsiblePlaybook.failure(inLog: text) {
                throw BuildError(image: image, step: step, message: "task '\(task)' failed: \(message) (full log: \(log.path))")
            }
            throw BuildError(
                image: image, step: step, message: "ansible-playbook failed (\(failure.status)); full log: \(log.path)",
                outputTail: failure.output)
        } catch {
            throw BuildError(image: image, step: step, message: "cannot run ansible-playbook: \(error)")
        }
        let found: Buildah.LocalImage?
        do {
            found = try await buildah.localImage(playbook.modifiedImage)
        } catch {
            throw BuildError(image: image, step: step, message: "cannot read containers-storage: \(error)")
        }
        guard let found else {
            throw BuildError(
                image: image, step: step,
                message: "the role finished but left no \(playbook.modifiedImage) in containers-storage (full log: \(log.path))")
        }
        return found
    }

    /// ansible-playbook's environment: the roles path, no colour or retry files, temporaries
    /// in `directory`, and the run's registry logins, isolation and storage for the role's buildah.
    private func playbookEnvironment(in directory: URL) -> [String: String] {
        var environment = [
            "ANSIBLE_ROLES_PATH": rolesPath.joined(separator: ":"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_LOCAL_TEMP": directory.appendingPathComponent("tmp").path,
        ]
        if let authFile = access.authFile { environment["REGISTRY_AUTH_FILE"] = authFile }
        // The isolation and storage driver the run's own buildah uses.
        if let isolation = buildah.isolation { environment["BUILDAH_ISOLATION"] = isolation }
        if let driver = buildah.storageDriver { environment["STORAGE_DRIVER"] = driver }
        if let root = buildah.root, let runRoot = buildah.runRoot {
            // The role's buildah sees the storage imageprep reads.
            let conf = directory.appendingPathComponent("storage.conf")
            let driver = buildah.storageDriver.map { "driver = \"\($0)\"\n" } ?? ""
            try? Data("[storage]\n\(driver)graphroot = \"\(root)\"\nrunroot = \"\(runRoot)\"\n".utf8).write(to: conf)
            environment["CONTAINERS_STORAGE_CONF"] = conf.path
        }
        return environment
    }
}
