/// A `206` answer's `Content-Range: bytes FIRST-LAST/TOTAL` (RFC 9110 §14.4), parsed from
/// untrusted text without trapping: every number is ASCII digits that fit an `Int64`, the
/// range is in order and inside the total. `*` for an unknown total, a list of ranges and
/// any other unit are not accepted.
struct ContentRange: Sendable, Equatable {
    var first: Int64
    var last: Int64
    var total: Int64

    init?(_ header: String) {
        let text = CurlTransferContext.trimmingHTTPWhitespace(Substring(header)).utf8
        // The unit, case-insensitively, on ASCII bytes: no Unicode case mapping of hostile text.
        let unit = Array("bytes ".utf8)
        guard text.count > unit.count, zip(text, unit).allSatisfy({ ($1 == 0x20 ? $0 : $0 | 0x20) == $1 }) else { return nil }
        let spec = Substring(text.dropFirst(unit.count))
        guard let slash = spec.firstIndex(of: "/"), let dash = spec[..<slash].firstIndex(of: "-"),
              let first = Self.number(spec[..<dash]),
              let last = Self.number(spec[spec.index(after: dash)..<slash]),
              let total = Self.number(spec[spec.index(after: slash)...]),
              first <= last, last < total
        else { return nil }
        self.first = first
        self.last = last
        self.total = total
    }

    init(first: Int64, last: Int64, total: Int64) {
        self.first = first
        self.last = last
        self.total = total
    }

    /// Whether the range is the rest of a blob of `size` bytes from byte `offset` on: the
    /// answer to `Range: bytes=OFFSET-` for that blob.
    func continues(at offset: Int64, size: Int64) -> Bool {
        // `last < total`, so `last + 1` cannot overflow.
        first == offset && total == size && last + 1 == size
    }

    /// A decimal number of ASCII digits only (no sign, no space) that fits an `Int64`.
    private static func number(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int64(text)
    }
}
