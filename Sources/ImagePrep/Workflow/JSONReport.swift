import Foundation

/// The JSON imageprep writes (`--json`, `--report-file`): indented, keys sorted, slashes as
/// they are. A value that cannot be encoded (a non-finite number, say) is an error naming
/// the report and where in it, raised before anything is written: never an empty or
/// half-written report.
public enum JSONReport {
    /// `value` encoded; `what` names the report in the error (its file, or `--json`).
    public static func encode<T: Encodable>(_ value: T, what: String) throws(PrepareError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(value)
        } catch let error as EncodingError {
            throw PrepareError.unencodable(what: what, reason: describe(error))
        } catch {
            throw PrepareError.unencodable(what: what, reason: "\(error)")
        }
    }

    /// `at KEY[INDEX].KEY: what the encoder said`.
    static func describe(_ error: EncodingError) -> String {
        guard case .invalidValue(_, let context) = error else { return "\(error)" }
        var path = ""
        for key in context.codingPath {
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return path.isEmpty ? context.debugDescription : "at \(path): \(context.debugDescription)"
    }
}
