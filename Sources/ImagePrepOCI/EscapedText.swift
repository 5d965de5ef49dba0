extension StringProtocol {
    /// The text with its control characters written as escapes (`\n`, `\r`, `\t`, else
    /// `\u{1B}` and the like), so that a string from outside prints as what it is: it cannot
    /// end a line, return the cursor, send a terminal escape or reorder what follows. The C0
    /// and C1 controls, DEL, the Unicode line and paragraph separators and the bidirectional
    /// overrides are escaped. `keepingLineBreaks` leaves `\n` alone, for text whose line
    /// breaks are the renderer's own.
    public func escapingControlCharacters(keepingLineBreaks: Bool = false) -> String {
        func escaped(_ scalar: Unicode.Scalar) -> Bool {
            if scalar == "\n" { return !keepingLineBreaks }
            switch scalar.value {
            case 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
            default: return scalar.properties.generalCategory == .control
            }
        }
        guard unicodeScalars.contains(where: escaped) else { return String(self) }
        var text = ""
        for scalar in unicodeScalars {
            guard escaped(scalar) else {
                text.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            default: text += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            }
        }
        return text
    }
}
