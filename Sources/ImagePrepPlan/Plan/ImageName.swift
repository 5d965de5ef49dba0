/// Image names as the catalogs write them: `[registry/]path:tag`.
public enum ImageName {
    /// The registry part of a name, when its first component is one (it
    /// holds a `.` or `:`, or is `localhost`, as docker decides).
    public static func registry(of name: String) -> String? {
        guard let slash = name.firstIndex(of: "/") else { return nil }
        let first = name[..<slash]
        if first.contains(".") || first.contains(":") || first == "localhost" { return String(first) }
        return nil
    }

    /// The name with its registry replaced by `registry` (or `registry`
    /// put in front when it had none), the rest of the path kept.
    public static func rehome(_ name: String, to registry: String) -> String {
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
