/// Registries given up for the rest of a run: once a request to a registry has failed all
/// its attempts with connection errors, every later request to it fails at once instead of
/// going through the same retries (a per-run circuit breaker, per registry).
actor RegistryBreaker {
    private var down: [String: String] = [:]

    /// Throws when `registry` was given up; the error names the first failure.
    func check(_ registry: String, context: RegistryErrorContext) throws {
        if let reason = down[registry.lowercased()] {
            throw RegistryError.givenUp(context, reason: reason)
        }
    }

    /// Gives `registry` up after `error` ended a request's last attempt; the first reason stays.
    func trip(_ registry: String, after error: RegistryError) {
        guard case .connection(_, let message) = error else { return }
        let key = registry.lowercased()
        if down[key] == nil { down[key] = message }
    }
}
