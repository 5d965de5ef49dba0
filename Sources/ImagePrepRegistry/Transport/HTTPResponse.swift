import Foundation

/// Header fields in order, with case-insensitive lookup.
struct HTTPHeaders: Sendable, Sequence {
    private var fields: [(name: String, value: String)] = []

    init() {}

    init(_ fields: [(String, String)]) {
        for (name, value) in fields { add(name, value) }
    }

    mutating func add(_ name: String, _ value: String) {
        fields.append((name, value))
    }

    mutating func set(_ name: String, _ value: String) {
        fields.removeAll { $0.name.caseInsensitiveCompare(name) == .orderedSame }
        fields.append((name, value))
    }

    subscript(name: String) -> String? {
        fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    func values(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }
}

struct HTTPResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    /// The collected body; empty when a 2xx body went to the request's `bodyWriter`.
    var body: Data
    /// Bytes of the body that went to the request's `bodyWriter`.
    var streamedBytes: Int64
    /// The URL of the last request made, after redirects.
    var effectiveURL: URL?

    var isSuccess: Bool { (200..<300).contains(status) }
}
