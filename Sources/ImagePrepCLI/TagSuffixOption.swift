import ArgumentParser
import ImagePrepOCI

/// The flags whose value is appended to a tag (`image copy --append-tag`, `modify
/// --append-tag`, `hotfix apply --tag`): the OCI tag grammar's (``Reference/isValidTagSuffix(_:)``),
/// refused in one line naming the flag and what it expects.
enum TagSuffixOption {
    static let expected = "expected \(Reference.tagCharacters), at most \(Reference.maximumTagLength)"

    static func validate(_ suffix: String, flag: String) throws {
        guard Reference.isValidTagSuffix(suffix) else {
            throw ValidationError("\(flag) '\(suffix.debugDescription.dropFirst().dropLast())': \(expected)")
        }
    }

    /// `destination`'s tag (`latest` when it names none) with `suffix` after it; a reference by
    /// digest, or a tag that would grow past the grammar's length, is refused naming `flag`.
    static func appending(_ suffix: String, to destination: String, flag: String) throws -> Reference {
        let reference = try Reference(destination)
        guard reference.digest == nil else {
            throw ValidationError("\(flag) needs a destination by tag, not digest: \(destination)")
        }
        var appended = reference
        appended.tag = (reference.tag ?? "latest") + suffix
        guard let tag = appended.tag, Reference.isValidTag(tag) else {
            throw ValidationError(
                "\(flag) '\(suffix)': the tag '\(appended.tag ?? "")' would be longer than \(Reference.maximumTagLength)")
        }
        return appended
    }
}
