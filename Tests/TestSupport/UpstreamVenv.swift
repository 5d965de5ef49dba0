import Foundation
import XCTest

/// The Python venv with tripleo-common 18.0.0 that `scripts/upstream-venv` makes (scripts/test
/// runs it), for the tests that compare imageprep with upstream's own code.
public enum UpstreamVenv {
    /// The venv's python: `$IMAGEPREP_UPSTREAM_VENV`, else
    /// `$XDG_CACHE_HOME/imageprep/upstream-venv-18.0.0`. Missing, the test is skipped, except
    /// in CI (`CI=true`), where it fails.
    public static func python() throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        let venv = environment["IMAGEPREP_UPSTREAM_VENV"]
            ?? (environment["XDG_CACHE_HOME"] ?? home + "/.cache") + "/imageprep/upstream-venv-18.0.0"
        let python = URL(fileURLWithPath: venv + "/bin/python3")
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            let message = "no tripleo-common venv at \(venv): run scripts/upstream-venv"
            if environment["CI"] == "true" { throw Missing(description: message) }
            throw XCTSkip(message)
        }
        return python
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }
}
