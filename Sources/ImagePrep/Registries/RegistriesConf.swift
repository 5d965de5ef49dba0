import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import TOMLKit

/// The containers registries configuration that podman, buildah and skopeo honour
/// (`registries.conf` and its `registries.conf.d` drop-ins): which registries are insecure,
/// which are blocked, and the mirrors tried before a registry for pulls. Both the v2 format
/// (`[[registry]]` tables) and the v1 tables (`[registries.insecure]`, `[registries.block]`)
/// are read; search registries, aliases and short-name settings do not apply to the fully
/// qualified names imageprep uses and are ignored.
public struct RegistriesConf: Sendable, Equatable {
    /// Which image references a mirror serves.
    public enum MirrorUse: String, Sendable, Equatable {
        case all
        case digestOnly = "digest-only"
        case tagOnly = "tag-only"

        func serves(_ reference: Reference) -> Bool {
            switch self {
            case .all: true
            case .digestOnly: reference.digest != nil
            case .tagOnly: reference.digest == nil
            }
        }
    }

    public struct Mirror: Sendable, Equatable {
        /// `host[:port][/path]`, standing in for the registry's prefix.
        public var location: String
        public var insecure: Bool
        public var use: MirrorUse

        public init(location: String, insecure: Bool = false, use: MirrorUse = .all) {
            self.location = location
            self.insecure = insecure
            self.use = use
        }
    }

    public struct Registry: Sendable, Equatable {
        /// The names the entry applies to: `host[:port][/path]`, or `*.domain` for its
        /// subdomains.
        public var prefix: String
        /// Where names under the prefix are pulled from; the prefix itself when not given.
        public var location: String
        public var insecure: Bool
        public var blocked: Bool
        /// Tried in order before `location` for pulls.
        public var mirrors: [Mirror]
        /// The file that configured the entry (the last one, with drop-ins), for errors.
        public var file: String

        public init(
            prefix: String, location: String? = nil, insecure: Bool = false, blocked: Bool = false,
            mirrors: [Mirror] = [], file: String
        ) {
            self.prefix = prefix
            self.location = location ?? prefix
            self.insecure = insecure
            self.blocked = blocked
            self.mirrors = mirrors
            self.file = file
        }
    }

    public private(set) var registries: [Registry] = []
    /// The files read, in order.
    public private(set) var files: [String] = []

    public init() {}

    public static let defaultPath = "/etc/containers/registries.conf"

    /// The configuration the containers tools read: `path` when given (`--registries-conf`,
    /// which must exist), else `$CONTAINERS_REGISTRIES_CONF`, else `/etc/containers/registries.conf`;
    /// then the `*.conf` files of the `registries.conf.d` directory beside it, by name. A
    /// later file's entry for a prefix replaces an earlier one's.
    public static func load(
        path: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(PrepareError) -> RegistriesConf {
        var configuration = RegistriesConf()
        let main: String
        if let path {
            main = path
            try configuration.add(try FileSystem.readText(path), file: path)
        } else {
            main = environment["CONTAINERS_REGISTRIES_CONF"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultPath
            if FileManager.default.fileExists(atPath: main) {
                try configuration.add(try FileSystem.readText(main), file: main)
            }
        }
        let directory = URL(fileURLWithPath: main).deletingLastPathComponent().appendingPathComponent("registries.conf.d").path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names.filter({ $0.hasSuffix(".conf") }).sorted() {
            let file = directory + "/" + name
            try configuration.add(try FileSystem.readText(file), file: file)
        }
        return configuration
    }

    /// Adds one file's entries.
    public mutating func add(_ text: String, file: String) throws(PrepareError) {
        let entries = try Self.parse(text, file: file)
        for entry in entries {
            if let index = registries.firstIndex(where: { $0.prefix == entry.prefix }) {
                registries[index] = entry
            } else {
                registries.append(entry)
            }
        }
        files.append(file)
    }

    /// The entries of one file, v2 tables first, then the v1 ones merged in by host.
    static func parse(_ text: String, file: String) throws(PrepareError) -> [Registry] {
        func invalid(_ key: String, _ reason: String) -> PrepareError {
            .invalidConfiguration(path: file, line: nil, reason: "\(key): \(reason)")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw PrepareError.invalidConfiguration(path: file, line: error.source.begin.line, reason: "malformed TOML: \(error.description)")
        } catch {
            throw PrepareError.invalidConfiguration(path: file, line: nil, reason: "not a TOML file")
        }

        var entries: [Registry] = []
        if let value = table["registry"] {
            guard let array = value.array else { throw invalid("registry", "expected [[registry]] tables") }
            for (index, element) in array.enumerated() {
                let key = "registry[\(index)]"
                guard let entry = element.table else { throw invalid(key, "expected a table") }
                let location = try string(entry, "location", key: key, file: file) ?? ""
                var prefix = try string(entry, "prefix", key: key, file: file) ?? ""
                if prefix.isEmpty { prefix = location }
                guard !prefix.isEmpty else { throw invalid(key, "needs a location (or a prefix)") }
                for (name, value) in [("location", location), ("prefix", prefix)] where value.contains("://") {
                    throw invalid("\(key).\(name)", "expected host[:port][/path] without a scheme, got '\(value)'")
                }
                if prefix.hasPrefix("*.") {
                    guard location.isEmpty else { throw invalid(key, "a wildcard prefix (\(prefix)) takes no location") }
                } else {
                    guard !location.isEmpty else { throw invalid(key, "needs a location") }
                }
                var mirrors: [Mirror] = []
                if let value = entry["mirror"] {
                    guard let list = value.array else { throw invalid("\(key).mirror", "expected [[registry.mirror]] tables") }
                    for (position, element) in list.enumerated() {
                        let mirrorKey = "\(key).mirror[\(position)]"
                        guard let mirror = element.table else { throw invalid(mirrorKey, "expected a table") }
                        guard let location = try string(mirror, "location", key: mirrorKey, file: file), !location.isEmpty else {
                            throw invalid(mirrorKey, "needs a location")
                        }
                        guard !location.contains("://") else {
                            throw invalid("\(mirrorKey).location", "expected host[:port][/path] without a scheme, got '\(location)'")
                        }
                        let useText = try string(mirror, "pull-from-mirror", key: mirrorKey, file: file) ?? "all"
                        guard let use = MirrorUse(rawValue: useText) else {
                            throw invalid("\(mirrorKey).pull-from-mirror", "expected all, digest-only or tag-only, got '\(useText)'")
                        }
                        mirrors.append(
                            Mirror(location: location, insecure: try bool(mirror, "insecure", key: mirrorKey, file: file), use: use))
                    }
                }
                if try bool(entry, "mirror-by-digest-only", key: key, file: file) {
                    for index in mirrors.indices where mirrors[index].use == .all { mirrors[index].use = .digestOnly }
                }
                entries.append(
                    Registry(
                        prefix: prefix, location: location, insecure: try bool(entry, "insecure", key: key, file: file),
                        blocked: try bool(entry, "blocked", key: key, file: file), mirrors: mirrors, file: file))
            }
        }

        if let value = table["registries"] {
            guard let v1 = value.table else { throw invalid("registries", "expected a table") }
            for (name, flag) in [("insecure", \Registry.insecure), ("block", \Registry.blocked)] {
                guard let section = v1[name] else { continue }
                let key = "registries.\(name)"
                guard let sectionTable = section.table else { throw invalid(key, "expected a table") }
                for host in try strings(sectionTable, "registries", key: key, file: file) {
                    if let index = entries.firstIndex(where: { $0.prefix == host }) {
                        entries[index][keyPath: flag] = true
                    } else {
                        var entry = Registry(prefix: host, file: file)
                        entry[keyPath: flag] = true
                        entries.append(entry)
                    }
                }
            }
            if let search = v1["search"] {
                guard let searchTable = search.table else { throw invalid("registries.search", "expected a table") }
                _ = try strings(searchTable, "registries", key: "registries.search", file: file)
            }
        }
        return entries
    }

    private static func string(_ table: TOMLTable, _ name: String, key: String, file: String) throws(PrepareError) -> String? {
        guard let value = table[name] else { return nil }
        guard let text = value.string else {
            throw PrepareError.invalidConfiguration(path: file, line: nil, reason: "\(key).\(name): expected a string")
        }
        return text
    }

    private static func bool(_ table: TOMLTable, _ name: String, key: String, file: String) throws(PrepareError) -> Bool {
        guard let value = table[name] else { return false }
        guard let flag = value.bool else {
            throw PrepareError.invalidConfiguration(path: file, line: nil, reason: "\(key).\(name): expected true or false")
        }
        return flag
    }

    private static func strings(_ table: TOMLTable, _ name: String, key: String, file: String) throws(PrepareError) -> [String] {
        guard let value = table[name] else { return [] }
        guard let array = value.array else {
            throw PrepareError.invalidConfiguration(path: file, line: nil, reason: "\(key).\(name): expected a list of strings")
        }
        var result: [String] = []
        for element in array {
            guard let text = element.string, !text.isEmpty else {
                throw PrepareError.invalidConfiguration(path: file, line: nil, reason: "\(key).\(name): expected a list of strings")
            }
            result.append(text)
        }
        return result
    }
}

extension RegistriesConf {
    /// The `host[:port]` of registries and mirrors marked `insecure`.
    public var insecureRegistries: [String] {
        var hosts: [String] = []
        for registry in registries {
            if registry.insecure, !registry.location.isEmpty { hosts.append(Self.host(of: registry.location)) }
            for mirror in registry.mirrors where mirror.insecure { hosts.append(Self.host(of: mirror.location)) }
        }
        return hosts
    }

    /// The entry whose prefix matches `reference` longest, as containers-image picks it: the
    /// name equals the prefix or continues it with `/`, `:` or `@`; `*.domain` matches the
    /// domain's subdomains.
    public func registry(for reference: Reference) -> Registry? {
        let name = Self.name(of: reference)
        var best: (registry: Registry, length: Int)?
        for registry in registries {
            let length = Self.matchLength(of: registry.prefix, in: name)
            if length > 0, length > (best?.length ?? 0) { best = (registry, length) }
        }
        return best?.registry
    }

    /// Where a pull of `reference` goes, in order: the matching entry's mirrors that serve
    /// it, then its location. A reference no entry matches is pulled as it is.
    public func pullSources(for reference: Reference) -> [Reference] {
        guard let registry = registry(for: reference) else { return [reference] }
        let name = Self.name(of: reference)
        let length = Self.matchLength(of: registry.prefix, in: name)
        let rest = name.dropFirst(length)
        func rewritten(_ location: String) -> Reference? {
            // A wildcard entry keeps the name as it is.
            let text = registry.prefix.hasPrefix("*.") ? name : location + rest
            return try? Reference(text)
        }
        var sources = registry.mirrors.filter { $0.use.serves(reference) }.compactMap { rewritten($0.location) }
        sources.append(rewritten(registry.location) ?? reference)
        return sources
    }

    /// The name containers-image matches prefixes against: Docker Hub as `docker.io`.
    static func name(of reference: Reference) -> String {
        let registry = reference.registry == Reference.dockerHubRegistry ? "docker.io" : reference.registry
        var text = "\(registry)/\(reference.repository)"
        if let tag = reference.tag { text += ":\(tag)" }
        if let digest = reference.digest { text += "@\(digest)" }
        return text
    }

    static func matchLength(of prefix: String, in name: String) -> Int {
        if prefix.hasPrefix("*.") {
            let host = name.split(separator: "/", maxSplits: 1).first.map(String.init) ?? name
            let hostname = host.split(separator: ":", maxSplits: 1).first.map(String.init) ?? host
            return hostname.hasSuffix(prefix.dropFirst()) ? prefix.count : 0
        }
        guard name.hasPrefix(prefix) else { return 0 }
        if name.count == prefix.count { return prefix.count }
        let next = name[name.index(name.startIndex, offsetBy: prefix.count)]
        return next == "/" || next == ":" || next == "@" ? prefix.count : 0
    }

    static func host(of location: String) -> String {
        (location.split(separator: "/", maxSplits: 1).first.map(String.init) ?? location).lowercased()
    }
}
