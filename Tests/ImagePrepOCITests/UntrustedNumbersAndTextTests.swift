import Foundation
import ImagePrepOCI
import XCTest

/// Numbers and text from outside: descriptor sizes bounded where they are decoded, sums that
/// hold at the maximum instead of trapping, control characters escaped for printing.
final class UntrustedNumbersAndTextTests: XCTestCase {
    let digest = "sha256:" + String(repeating: "ab", count: 32)

    func descriptorJSON(size: String) -> Data {
        Data(#"{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": "\#(digest)", "size": \#(size)}"#.utf8)
    }

    func testDescriptorSizesOutsideZeroToOneTebibyteAreRefusedNamingTheDigest() throws {
        for size in ["-1", "9223372036854775807", "1099511627777"] {
            XCTAssertThrowsError(try JSONDecoder().decode(Descriptor.self, from: descriptorJSON(size: size))) { error in
                XCTAssertEqual(error as? OCIError, .invalidDescriptorSize(digest: digest, size: Int64(size)!))
                XCTAssertEqual("\(error)", "the descriptor of \(digest) claims \(size) bytes, expected 0 to 1099511627776")
            }
        }
        for size in ["0", "1099511627776"] {
            XCTAssertEqual(try JSONDecoder().decode(Descriptor.self, from: descriptorJSON(size: size)).size, Int64(size))
        }
        // Inside a manifest the same error comes out of the whole document's decoding.
        let manifest = Data(#"{"schemaVersion": 2, "config": \#(String(decoding: descriptorJSON(size: "1"), as: UTF8.self)), "layers": [\#(String(decoding: descriptorJSON(size: "-5"), as: UTF8.self))]}"#.utf8)
        XCTAssertThrowsError(try JSONDecoder().decode(Manifest.self, from: manifest)) { error in
            XCTAssertEqual(error as? OCIError, .invalidDescriptorSize(digest: digest, size: -5))
        }
    }

    func testDescriptorEncodingIsUnchanged() throws {
        let descriptor = try JSONDecoder().decode(Descriptor.self, from: descriptorJSON(size: "42"))
        let again = try JSONDecoder().decode(Descriptor.self, from: try JSONEncoder().encode(descriptor))
        XCTAssertEqual(again, descriptor)
    }

    func testSizesAddUpSaturatingInsteadOfTrapping() throws {
        let digest = try Digest(self.digest)
        let huge = Descriptor(mediaType: .dockerLayer, digest: digest, size: .max)
        XCTAssertEqual([huge, huge, huge].totalSize, .max)
        XCTAssertEqual([Descriptor(mediaType: .dockerLayer, digest: digest, size: 3), Descriptor(mediaType: .dockerLayer, digest: digest, size: 4)].totalSize, 7)
        XCTAssertEqual(Int64.min.addingSaturated(-1), .min)
        XCTAssertEqual(Int64(5).addingSaturated(-7), -2)
    }

    func testControlCharactersAreEscapedForPrinting() {
        XCTAssertEqual("1.0\ncopied  x (all good)".escapingControlCharacters(), #"1.0\ncopied  x (all good)"#)
        XCTAssertEqual("\u{1B}[2J\r\t\u{7F}\u{85}".escapingControlCharacters(), #"\u{1B}[2J\r\t\u{7F}\u{85}"#)
        XCTAssertEqual("a\u{2028}b\u{202E}c".escapingControlCharacters(), #"a\u{2028}b\u{202E}c"#)
        XCTAssertEqual("two\nlines\u{1B}".escapingControlCharacters(keepingLineBreaks: true), "two\nlines\\u{1B}")
        let plain = "quay.io/tripleo/nova:1.0 — élan 中文 🙂"
        XCTAssertEqual(plain.escapingControlCharacters(), plain)
    }

    /// A digest is ASCII: 64 (or 128) of 0-9 and a-f, counted in bytes. Fullwidth digits,
    /// which Character.isHexDigit accepts, would name files no other tool can match.
    func testDigestsAreLowercaseASCIIHexOfTheirExactLength() throws {
        let hex = String(repeating: "0123456789abcdef", count: 4)
        XCTAssertEqual(try Digest("sha256:" + hex).encoded, hex)
        XCTAssertEqual(try Digest("sha512:" + hex + hex).algorithm, "sha512")
        let short = String(hex.dropLast()), shorter = String(hex.dropLast(2))
        let bad: [String] = [
            "sha256:" + hex.uppercased(), "sha256:" + short + "g", "sha256:" + short, "sha256:" + hex + "0",
            "sha256:" + short + "\u{FF10}", "sha256:" + shorter + "\u{FF10}", "sha256:" + short + "\n",
            "sha384:" + hex, "sha256" + hex, "",
        ]
        for bad in bad {
            XCTAssertThrowsError(try Digest(bad), bad.debugDescription) {
                XCTAssertEqual($0 as? OCIError, .invalidDigest(bad))
            }
        }
    }
}
