import ImagePrepConcurrency
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// `prepare --diff`: what a prepare would change against the env file that was deployed.
public struct PrepareDiffResult: Sendable, Encodable {
    /// The deployed env file compared against.
    public var deployedFile: String
    public var diff: ParameterDiff
    /// The unchanged parameters whose digests were compared: those of images a prepare copies
    /// to a push destination. The others (no push destination, a modified image, a locally
    /// built one) are compared by value only.
    public var digestsCompared: [String]
    /// The parameters the prepare would write, name to image (a role's own as
    /// `<Role>Parameters.NAME`).
    public var parameters: [String: String]
    /// The plan's warnings (as a prepare's).
    public var warnings: [String]

    enum CodingKeys: String, CodingKey {
        case deployedFile = "deployed_file", diff, digestsCompared = "digests_compared", parameters, warnings
    }
}

extension PrepareWorkflow {
    /// Works out the parameters as `--dry-run --discover` does (the same resolve stage, tags
    /// from labels) and compares them with the deployed env file at `deployedFile`. For a
    /// parameter whose value stays, the image a prepare would copy under that name (the
    /// source's, read where its labels were) is compared with what the push destination holds
    /// under it now, which the env file only names by tag: the destination stands for what
    /// was deployed, and a different digest is what a prepare and an update would change.
    /// Reads only: nothing is copied, built or written.
    public func diff(against deployedFile: String) async throws(PrepareError) -> PrepareDiffResult {
        let plan = try loadPlan()
        let deployed: [String: String]
        do {
            let document = try ConfigDocument.parse(try FileSystem.readText(deployedFile), file: deployedFile)
            deployed = try ParameterDiff.deployedParameters(
                document, file: deployedFile, names: Set(plan.images.flatMap(\.params)), roleParameters: true)
        } catch let error as PlanError {
            throw PrepareError.plan(error)
        } catch let error as PrepareError {
            throw error
        } catch {
            throw PrepareError.unreadable(path: deployedFile, reason: "\(error)")
        }
        // Resolved as a dry run resolves (the sources only); the destinations are read below.
        let session = try RegistrySession(
            plan: plan, options: options.registry, modification: options.modification, readsDestinations: false)
        let concurrency = options.registry.concurrency
        let (resolutions, failures) = await PrepareStages(resolver: session, transfer: session, concurrency: concurrency)
            .resolve(plan)
        guard failures.isEmpty else { throw PrepareError.imagesFailed(failures) }

        // `<Role>Parameters`' own as `<Role>Parameters.NAME`.
        let parameters = ParameterDiff.parameters(resolutions.map(\.resolved), roleParameters: plan.roleParameters)
        var diff = ParameterDiff(deployed: deployed, new: parameters)
        // The image that writes each parameter: the later one, as in PrepareOutput.parameters.
        var writer: [String: ImageResolution] = [:]
        for resolution in resolutions {
            let role = resolution.resolved.image.roleParameters
            for name in resolution.resolved.image.params { writer[ParameterDiff.name(name, role: role)] = resolution }
        }
        let compared = diff.unchanged.filter { writer[$0]?.comparesDigest == true }
        // One look-up per image, however many parameters name it.
        var images: [ImageResolution] = []
        for name in compared where !images.contains(where: { $0.resolved.targetName == parameters[name] }) {
            images.append(writer[name]!)
        }
        let looked = await BoundedMap.map(images, limit: concurrency) {
            await session.copyDigests($0)
        }
        var digests: [String: RegistrySession.CopyDigests] = [:]
        var lookupFailures: [ImageFailure] = []
        for (image, result) in zip(images, looked) {
            switch result {
            case .success(let found): digests[image.resolved.targetName] = found
            case .failure(let failure): lookupFailures.append(failure)
            }
        }
        guard lookupFailures.isEmpty else { throw PrepareError.imagesFailed(lookupFailures) }
        for name in compared {
            guard let image = parameters[name], let found = digests[image], found.destination != found.copied else { continue }
            diff.digestChanged.append(ParameterDiff.DigestChange(name: name, image: image, deployed: found.destination, new: found.copied))
        }
        return PrepareDiffResult(deployedFile: deployedFile, diff: diff, digestsCompared: compared, parameters: parameters,
            warnings: plan.warnings)
    }
}

extension ImageResolution {
    /// Whether a prepare copies the image to a push destination, so that the destination's
    /// digest under its name can be compared with the source's.
    var comparesDigest: Bool {
        work == .copy && !ImageName.isLocal(resolved.image.imageName)
    }
}

extension RegistrySession {
    /// The digest a copy of an image would tag at its push destination, and the one the
    /// destination holds under that name now (nil: none).
    struct CopyDigests: Sendable, Equatable {
        var copied: Digest
        var destination: Digest?
    }

    /// What ``copy(_:progress:)`` would compare, read without copying: the source pinned to
    /// the digest its labels were read at, through registries.conf's mirrors, and the
    /// destination's manifest under the target name.
    func copyDigests(_ image: ImageResolution) async -> Result<CopyDigests, ImageFailure> {
        do {
            let source = pinned(try sourceReference(image.resolved.image), image.sourceDigest)
            let target = try Reference(image.resolved.targetName)
            var copier = self.copier
            copier.platforms = image.resolved.image.multiArch ? .all : .only(.linuxAMD64)
            let (copied, _) = try await sources.read(source) { [copier] in try await copier.copiedDigest(from: $0) }
            // Through the registry API, as the deployment pulls (image-serve's httpd answers it
            // too): no upload probe tells the kind of destination, nothing is written.
            let destination = try await RegistryDestination(client: client).manifest(target)?.digest
            return .success(CopyDigests(copied: copied, destination: destination))
        } catch {
            return .failure(ImageFailure(image: image.resolved.image.imageName, error: error))
        }
    }
}
