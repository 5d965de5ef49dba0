/// RFC 3339 times as image configs write them (`2019-05-01T10:20:30.123456789Z`, or with a
/// `+02:00` offset), parsed by hand: a date formatter would load ICU, which costs more than the
/// rest of a small modification.
public enum RFC3339 {
    /// Seconds since the epoch; fractions are dropped. Nil when `text` is not such a time.
    public static func epochSeconds(_ text: String) -> Int? {
        let digits = Array(text.unicodeScalars)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= digits.count else { return nil }
            var value = 0
            for scalar in digits[from..<(from + count)] {
                guard let digit = Int(String(scalar)) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146097 + dayOfEra - 719468
        var seconds = days * 86400 + hour * 3600 + minute * 60 + second
        // A numeric offset after the seconds and any fraction.
        var index = 19
        if index < digits.count, digits[index] == "." {
            index += 1
            while index < digits.count, ("0"..."9").contains(digits[index]) { index += 1 }
        }
        if index < digits.count, digits[index] == "+" || digits[index] == "-",
           let hours = number(index + 1, 2), let minutes = number(index + 4, 2)
        {
            let offset = hours * 3600 + minutes * 60
            seconds += digits[index] == "+" ? -offset : offset
        }
        return seconds
    }
}
