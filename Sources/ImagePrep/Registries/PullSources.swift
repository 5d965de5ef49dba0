import ImagePrepConcurrency
import Foundation
import ImagePrepOCI
import ImagePrepRegistry

/// Where source images are read from, as registries.conf says: a blocked registry is
/// refused; the mirrors of the image's registry are tried in order before the registry
/// itself, each failure falling back to the next. A mirror that cannot be reached at all
/// (connection or TLS failure) is not tried again in the run. Pushes never go to mirrors.
final class PullSources: Sendable {
    let configuration: RegistriesConf
    let client: RegistryClient
    private let unreachable = Locked<Set<String>>([])

    init(configuration: RegistriesConf, client: RegistryClient) {
        self.configuration = configuration
        self.client = client
    }

    /// Refuses the images whose registry is blocked, with one error per blocked entry
    /// naming the registry, the file and the images.
    func checkNotBlocked(_ references: [Reference]) throws(PrepareError) {
        var blocked: [String: (registry: RegistriesConf.Registry, images: [String])] = [:]
        var order: [String] = []
        for reference in references {
            guard let registry = configuration.registry(for: reference), registry.blocked else { continue }
            if blocked[registry.prefix] == nil { order.append(registry.prefix) }
            blocked[registry.prefix, default: (registry, [])].images.append(RegistriesConf.name(of: reference))
        }
        guard let first = order.first, let entry = blocked[first] else { return }
        throw PrepareError.blockedRegistry(prefix: entry.registry.prefix, file: entry.registry.file, images: entry.images)
    }

    /// Runs `body` on the first pull source of `reference` for which it succeeds, the
    /// mirrors first; returns its result and the source that gave it. The last source's
    /// error is thrown.
    func read<T: Sendable>(
        _ reference: Reference, _ body: @Sendable (Reference) async throws -> T
    ) async throws -> (value: T, source: Reference) {
        let sources = configuration.pullSources(for: reference)
        var tried: [String] = []
        for mirror in sources.dropLast() {
            guard !unreachable.withLock({ $0.contains(mirror.registry) }) else {
                tried.append("\(mirror.registry) unreachable")
                continue
            }
            do {
                return (try await body(mirror), mirror)
            } catch RegistryError.connection, RegistryError.tls {
                unreachable.withLock { _ = $0.insert(mirror.registry) }
                tried.append("\(mirror.registry) unreachable")
            } catch {
                // Not on this mirror, or refused there: the next source.
                tried.append("\(mirror.registry): \(error)")
            }
        }
        let location = sources.last ?? reference
        do {
            return (try await body(location), location)
        } catch where !tried.isEmpty {
            throw MirrorsFailed(error: error, mirrors: tried)
        }
    }

    /// The registry's own error after every mirror failed too, with what the mirrors said.
    struct MirrorsFailed: CausedError, CustomStringConvertible {
        var error: any Error
        var mirrors: [String]

        var cause: (any Error)? { error }

        var description: String { "\(error) (registries.conf mirrors tried first: \(mirrors.joined(separator: "; ")))" }
    }

    /// Whether `source` is one of `reference`'s mirrors rather than its registry.
    func isMirror(_ source: Reference, of reference: Reference) -> Bool {
        configuration.pullSources(for: reference).dropLast().contains(source)
    }

    /// The first pull source that has the image (a manifest request each), else the
    /// registry itself: where a build reads its base.
    func available(_ reference: Reference) async -> Reference {
        let sources = configuration.pullSources(for: reference)
        // No mirror: nothing to probe.
        guard sources.count > 1 else { return sources.first ?? reference }
        struct Missing: Error {}
        let client = client
        let found = try? await read(reference) { source in
            guard try await client.headManifest(source) != nil else { throw Missing() }
            return true
        }
        return found?.source ?? sources.last ?? reference
    }
}
