import Foundation
import ImagePrep

/// Prints `value` as the commands' `--json` output: indented, keys sorted. A value that
/// cannot be encoded is one error line, and nothing is printed.
func printJSON<T: Encodable>(_ value: T) throws {
    print(String(decoding: try JSONReport.encode(value, what: "--json"), as: UTF8.self))
}
