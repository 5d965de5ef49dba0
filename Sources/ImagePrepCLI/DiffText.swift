import ImagePrep
import ImagePrepOCI
import ImagePrepPlan

/// The operator's text for `prepare --diff`: one line per parameter that differs, sorted by
/// name, then a summary line.
enum DiffText {
    static func render(_ result: PrepareDiffResult) -> String {
        let diff = result.diff
        var lines: [(name: String, text: String)] = []
        for change in diff.changed {
            lines.append((change.name, "\(change.name): \(change.old) → \(change.new)"))
        }
        for added in diff.added {
            lines.append((added.name, "\(added.name): (not deployed) → \(added.image)"))
        }
        for removed in diff.removed {
            lines.append((removed.name, "\(removed.name): \(removed.image) → (no longer written)"))
        }
        for changed in diff.digestChanged {
            let deployed = changed.deployed.map(short) ?? "(not at the destination)"
            lines.append((changed.name, "\(changed.name): \(changed.image): \(deployed) → \(short(changed.new)) (same tag, new image)"))
        }
        // Names and images come from files and registries: escaped, one line each.
        var text = lines.sorted { $0.name < $1.name }.map { $0.text.escapingControlCharacters() + "\n" }.joined()
        let compared = "digests compared for \(result.digestsCompared.count)"
        let file = result.deployedFile.escapingControlCharacters()
        if diff.isEmpty {
            text += "No differences: \(diff.unchanged.count) parameter(s) as in \(file) (\(compared)).\n"
        } else {
            text += "\n\(lines.count) parameter(s) differ from \(file): \(diff.changed.count) changed, \(diff.added.count) added, "
                + "\(diff.removed.count) removed, \(diff.digestChanged.count) new image(s) under the same tag; "
                + "\(diff.unchanged.count - diff.digestChanged.count) unchanged (\(compared)).\n"
        }
        return text
    }

    /// A digest as `docker images` shortens an ID: the algorithm and 12 hex digits.
    static func short(_ digest: Digest) -> String {
        "\(digest.algorithm):\(digest.encoded.prefix(12))"
    }
}
