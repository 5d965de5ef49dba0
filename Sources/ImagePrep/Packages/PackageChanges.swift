import ImagePrepArchive

/// How the packages of an image changed in a modification.
public struct PackageChanges: Sendable, Equatable, Encodable {
    public struct Change: Sendable, Equatable, Encodable {
        public var name: String
        public var from: String?
        public var to: String?
    }

    public var image: String
    public var added: [Change] = []
    public var upgraded: [Change] = []
    public var downgraded: [Change] = []
    public var removed: [Change] = []

    public init(image: String, before: [InstalledPackage], after: [InstalledPackage]) {
        self.image = image
        let old = Dictionary(before.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let new = Dictionary(after.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for name in Set(old.keys).union(new.keys).sorted() {
            switch (old[name], new[name]) {
            case (nil, let added?):
                self.added.append(Change(name: name, from: nil, to: added.nevra))
            case (let removed?, nil):
                self.removed.append(Change(name: name, from: removed.nevra, to: nil))
            case (let a?, let b?) where a != b:
                let change = Change(name: name, from: a.nevra, to: b.nevra)
                if RPMVersion.compare(a, b) <= 0 { upgraded.append(change) } else { downgraded.append(change) }
            default:
                continue
            }
        }
    }

    /// One line for the run's report.
    public var summary: String {
        var parts: [String] = []
        for (word, changes) in [("added", added), ("upgraded", upgraded), ("downgraded", downgraded), ("removed", removed)]
        where !changes.isEmpty {
            parts.append("\(word) " + changes.map { $0.to ?? $0.from ?? $0.name }.joined(separator: ", "))
        }
        return "changes \(image): " + (parts.isEmpty ? "no package changed" : parts.joined(separator: "; "))
    }
}
