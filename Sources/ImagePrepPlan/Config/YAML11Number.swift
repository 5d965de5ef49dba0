import Foundation

/// A plain scalar PyYAML (YAML 1.1, which tripleo-common and heatclient read
/// with) takes for a number, and the text Python's `str()` — so Jinja2 —
/// gives that number: `16.10` is the float 16.1, `017` the octal 15, `1:30`
/// the base-60 90.
public struct YAML11Number: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case decimal, octal, hexadecimal, binary, sexagesimal, float
    }

    /// The scalar as written.
    public var written: String
    public var kind: Kind
    /// What Python prints for the value PyYAML makes of it.
    public var pythonText: String

    /// nil when PyYAML reads `written` as no number (a string).
    public init?(_ written: String) {
        let whole = NSRange(written.startIndex..., in: written)
        if Self.intPattern.firstMatch(in: written, range: whole) != nil {
            guard let (kind, text) = Self.integer(written) else { return nil }
            self.kind = kind
            self.pythonText = text
        } else if Self.floatPattern.firstMatch(in: written, range: whole) != nil {
            guard let text = Self.float(written) else { return nil }
            self.kind = .float
            self.pythonText = text
        } else {
            return nil
        }
        self.written = written
    }

    /// PyYAML's `Resolver` int rule (resolver.py).
    static let intPattern = try! NSRegularExpression(
        pattern: "^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$")
    /// PyYAML's float rule: unlike YAML 1.2, a float needs a dot and an
    /// exponent needs a sign (`1e3` is a string).
    static let floatPattern = try! NSRegularExpression(
        pattern: "^(?:[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+][0-9]+)?|\\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$")

    /// PyYAML's `construct_yaml_int`, printed in decimal (any size, as Python's int).
    static func integer(_ written: String) -> (Kind, String)? {
        var text = written.replacingOccurrences(of: "_", with: "")
        var negative = false
        if let first = text.first, first == "-" || first == "+" {
            negative = first == "-"
            text.removeFirst()
        }
        let kind: Kind
        var digits: [Int] = []
        var base = 10
        if text == "0" {
            kind = .decimal
            digits = [0]
        } else if text.hasPrefix("0b") {
            kind = .binary
            base = 2
            digits = text.dropFirst(2).compactMap { $0.hexDigitValue }
        } else if text.hasPrefix("0x") {
            kind = .hexadecimal
            base = 16
            digits = text.dropFirst(2).compactMap { $0.hexDigitValue }
        } else if text.hasPrefix("0") {
            kind = .octal
            base = 8
            digits = text.dropFirst().compactMap { $0.hexDigitValue }
        } else if text.contains(":") {
            kind = .sexagesimal
            base = 60
            digits = text.split(separator: ":").compactMap { Int($0) }
        } else {
            kind = .decimal
            digits = text.compactMap { $0.wholeNumberValue }
        }
        // Decimal digits of the value, most significant first: no overflow whatever the length.
        var decimal: [Int] = [0]
        for digit in digits {
            var carry = digit
            for index in decimal.indices.reversed() {
                let product = decimal[index] * base + carry
                decimal[index] = product % 10
                carry = product / 10
            }
            while carry > 0 {
                decimal.insert(carry % 10, at: 0)
                carry /= 10
            }
        }
        while decimal.count > 1 && decimal[0] == 0 { decimal.removeFirst() }
        let magnitude = decimal.map(String.init).joined()
        return (kind, (negative && magnitude != "0" ? "-" : "") + magnitude)
    }

    /// PyYAML's `construct_yaml_float`, printed as Python's `repr(float)`.
    static func float(_ written: String) -> String? {
        var text = written.replacingOccurrences(of: "_", with: "").lowercased()
        var sign = 1.0
        if let first = text.first, first == "-" || first == "+" {
            if first == "-" { sign = -1 }
            text.removeFirst()
        }
        let value: Double
        if text == ".inf" {
            value = sign * .infinity
        } else if text == ".nan" {
            return "nan"
        } else if text.contains(":") {
            var total = 0.0
            var factor = 1.0
            for part in text.split(separator: ":").reversed() {
                guard let digit = Double(Self.withLeadingZero(String(part))) else { return nil }
                total += digit * factor
                factor *= 60
            }
            value = sign * total
        } else {
            guard let parsed = Double(Self.withLeadingZero(text)) else { return nil }
            value = sign * parsed
        }
        return pythonRepr(value)
    }

    private static func withLeadingZero(_ text: String) -> String {
        var text = text
        if text.hasPrefix(".") { text = "0" + text }
        if text.hasSuffix(".") { text += "0" }
        return text.replacingOccurrences(of: ".e", with: ".0e")
    }

    /// Python's `repr(float)`: the shortest digits that read back, in fixed
    /// notation for decimal exponents from -4 to 15, else as `d.ddde+XX`.
    static func pythonRepr(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        // Swift's description has the shortest round-tripping digits too; only the layout differs.
        var description = value.magnitude.description
        var exponent = 0
        if let e = description.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(description[description.index(after: e)...]) ?? 0
            description = String(description[..<e])
        }
        let parts = description.split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        var digits = integerPart + fraction
        // The value is 0.DIGITS x 10^point.
        var point = integerPart.count + exponent
        while digits.count > 1 && digits.first == "0" {
            digits.removeFirst()
            point -= 1
        }
        while digits.count > 1 && digits.last == "0" { digits.removeLast() }
        let sign = value.sign == .minus ? "-" : ""
        if digits == "0" { return sign + "0.0" }
        let decimalExponent = point - 1
        if decimalExponent >= -4 && decimalExponent < 16 {
            if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + digits }
            if point >= digits.count { return sign + digits + String(repeating: "0", count: point - digits.count) + ".0" }
            return sign + digits.prefix(point) + "." + digits.dropFirst(point)
        }
        let mantissa = digits.count == 1 ? digits : digits.prefix(1) + "." + digits.dropFirst()
        let magnitude = abs(decimalExponent)
        return sign + mantissa + "e" + (decimalExponent < 0 ? "-" : "+") + (magnitude < 10 ? "0" : "") + String(magnitude)
    }

    /// How the reading differs from the text, for a warning: nil when Python
    /// prints the number as written.
    public var surprise: String? {
        guard pythonText != written else { return nil }
        let how: String
        switch kind {
        case .octal: how = "the octal number \(pythonText)"
        case .hexadecimal: how = "the hexadecimal number \(pythonText)"
        case .binary: how = "the binary number \(pythonText)"
        case .sexagesimal: how = "the base-60 number \(pythonText)"
        case .decimal, .float: how = "the number \(pythonText)"
        }
        return "\(written) is read as \(how)"
    }
}
