/// rpm's version ordering (rpmvercmp) over epoch, version and release.
public enum RPMVersion {
    public static func compare(_ a: some RPMIdentity, _ b: some RPMIdentity) -> Int {
        let epochs = (a.epochNumber, b.epochNumber)
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
