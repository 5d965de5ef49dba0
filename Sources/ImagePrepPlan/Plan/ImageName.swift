/// Image names as the catalogs write them: `[registry/]path:tag`.
public enum ImageName {
    /// Names starting with this are read from local container storage (buildah/podman).
    public static let containersStoragePrefix = "containers-storage:"

    /// Whether the image is a locally built one (`containers-storage:NAME`).
    public static func isLocal(_ name: String) -> Bool {
        name.hasPrefix(containersStoragePrefix)
    }

    /// The name without `containers-storage:`.
    public static func withoutStoragePrefix(_ name: String) -> String {
        isLocal(name) ? String(name.dropFirst(containersStoragePrefix.count)) : name
    }

    /// The registry part of a name, when its first component is one (it
    /// holds a `.` or `:`, or is `localhost`, as docker decides).
    public static func registry(of name: String) -> String? {
        guard let slash = name.firstIndex(of: "/") else { return nil }
        let first = name[..<slash]
        if first.contains(".") || first.contains(":") || first == "localhost" { return String(first) }
        return nil
    }

    /// The name with its registry replaced by `registry` (or `registry`
    /// put in front when it had none), the rest of the path kept. A local
    /// image (`containers-storage:mylocal/x:t`) keeps its whole path
    /// (`registry/mylocal/x:t`), as the documentation's layering example shows.
    public static func rehome(_ name: String, to registry: String) -> String {
        let name = withoutStoragePrefix(name)
        let trimmed = registry.hasSuffix("/") ? String(registry.dropLast()) : registry
        if let current = self.registry(of: name) {
            return trimmed + name.dropFirst(current.count)
        }
        return trimmed + "/" + name
    }

    /// The `host[:port]` of a push destination (`192.168.24.1:8787/ns/` ->
    /// `192.168.24.1:8787`), as heat's `DockerInsecureRegistryAddress` wants.
    public static func registryHost(_ destination: String) -> String {
        var text = Substring(destination)
        for scheme in ["http://", "https://", "docker://"] where text.hasPrefix(scheme) { text = text.dropFirst(scheme.count) }
        return String(text.prefix { $0 != "/" })
    }

    /// Splits `path:tag` into the name without its tag and the tag.
    public static func splitTag(_ name: String) -> (name: String, tag: String?) {
        let lastSlash = name.lastIndex(of: "/") ?? name.startIndex
        guard let colon = name[lastSlash...].lastIndex(of: ":") else { return (name, nil) }
        return (String(name[..<colon]), String(name[name.index(after: colon)...]))
    }

    public static func withTag(_ name: String, _ tag: String) -> String {
        splitTag(name).name + ":" + tag
    }
}
