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

/// rpm's version ordering (rpmvercmp) over epoch, version and release.
public enum RPMVersion {
    public static func compare(_ a: InstalledPackage, _ b: InstalledPackage) -> Int {
        let epochs = (Int(a.epoch ?? "0") ?? 0, Int(b.epoch ?? "0") ?? 0)
        if epochs.0 != epochs.1 { return epochs.0 < epochs.1 ? -1 : 1 }
        let versions = compare(a.version, b.version)
        return versions != 0 ? versions : compare(a.release, b.release)
    }

    /// rpmvercmp: alternating runs of digits and letters compared in turn;
    /// digits beat letters, `~` sorts before everything, `^` after the end.
    public static func compare(_ a: String, _ b: String) -> Int {
        if a == b { return 0 }
        var x = Substring(a)
        var y = Substring(b)
        func isSeparator(_ c: Character) -> Bool { !(c.isASCII && (c.isLetter || c.isNumber)) && c != "~" && c != "^" }
        while !x.isEmpty || !y.isEmpty {
            while let c = x.first, isSeparator(c) { x.removeFirst() }
            while let c = y.first, isSeparator(c) { y.removeFirst() }
            if x.first == "~" || y.first == "~" {
                if x.first != "~" { return 1 }
                if y.first != "~" { return -1 }
                x.removeFirst()
                y.removeFirst()
                continue
            }
            if x.first == "^" || y.first == "^" {
                if x.isEmpty { return -1 }
                if y.isEmpty { return 1 }
                if x.first != "^" { return 1 }
                if y.first != "^" { return -1 }
                x.removeFirst()
                y.removeFirst()
                continue
            }
            if x.isEmpty || y.isEmpty { break }
            let numeric = x.first!.isNumber
            let take: (Character) -> Bool = numeric ? { $0.isASCII && $0.isNumber } : { $0.isASCII && $0.isLetter }
            let segmentX = x.prefix(while: take)
            let segmentY = y.prefix(while: take)
            x = x.dropFirst(segmentX.count)
            y = y.dropFirst(segmentY.count)
            if segmentY.isEmpty { return numeric ? 1 : -1 }
            if numeric {
                let trimmedX = segmentX.drop(while: { $0 == "0" })
                let trimmedY = segmentY.drop(while: { $0 == "0" })
                if trimmedX.count != trimmedY.count { return trimmedX.count < trimmedY.count ? -1 : 1 }
                if trimmedX != trimmedY { return trimmedX < trimmedY ? -1 : 1 }
            } else if segmentX != segmentY {
                return segmentX < segmentY ? -1 : 1
            }
        }
        if x.isEmpty && y.isEmpty { return 0 }
        return x.isEmpty ? -1 : 1
    }
}
