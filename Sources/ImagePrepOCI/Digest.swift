import Crypto
import Foundation

/// A content digest such as `sha256:0123…`.
public struct Digest: Hashable, Sendable, Codable, CustomStringConvertible {
    public let algorithm: String
    public let encoded: String

    public init(_ string: String) throws(OCIError) {
        guard let colon = string.firstIndex(of: ":") else {
            throw OCIError.invalidDigest(string)
        }
        let algorithm = String(string[..<colon])
        let encoded = String(string[string.index(after: colon)...])
        let expectedLength: Int
        switch algorithm {
        case "sha256": expectedLength = 64
        case "sha512": expectedLength = 128
        default: throw OCIError.invalidDigest(string)
        }
        // Bytes, not Characters: ASCII hex needs no Unicode properties (a manifest holds
        // dozens of digests, and this was a tenth of a no-op re-run's CPU).
        guard encoded.utf8.count == expectedLength,
              encoded.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                  || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
        else {
            throw OCIError.invalidDigest(string)
        }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    /// The digest of `data` (sha256 unless `algorithm` says sha512).
    public init(of data: Data, algorithm: String = "sha256") {
        var hasher = DigestHasher(algorithm: algorithm)
        hasher.update(data)
        self = hasher.finalize()
    }

    fileprivate init(algorithm: String, encoded: String) {
        self.algorithm = algorithm
        self.encoded = encoded
    }

    public var description: String { "\(algorithm):\(encoded)" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(container.decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Computes a digest of bytes as they flow past.
public struct DigestHasher {
    private enum State {
        case sha256(SHA256)
        case sha512(SHA512)
    }

    private var state: State

    public init(algorithm: String = "sha256") {
        state = algorithm == "sha512" ? .sha512(SHA512()) : .sha256(SHA256())
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .sha256(var hasher):
            hasher.update(bufferPointer: bytes)
            state = .sha256(hasher)
        case .sha512(var hasher):
            hasher.update(bufferPointer: bytes)
            state = .sha512(hasher)
        }
    }

    public mutating func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }

    public func finalize() -> Digest {
        switch state {
        case .sha256(let hasher):
            Digest(algorithm: "sha256", encoded: hex(hasher.finalize()))
        case .sha512(let hasher):
            Digest(algorithm: "sha512", encoded: hex(hasher.finalize()))
        }
    }

    private func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}
