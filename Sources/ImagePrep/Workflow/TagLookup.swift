import ImagePrepConcurrency
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// Upstream's tag discovery rules (`discover_tag_from_inspect`): the labels of
/// the image at its given tag name the versioned tag; when a label is
/// missing the given tag is kept; a discovered tag must exist in the source
/// repository. That is asked with one manifest `HEAD` of the tag (a registry may hold
/// thousands of tags, and a tag list is paginated); only a tag that is missing has the
/// repository's tags listed, for the error, once per repository and run. A re-run whose
/// push destination already holds the discovered tag at the digest the labels were read
/// from skips the check (`RegistrySession.resolve`): that image was copied from there.
final class TagLookup: Sendable {
    /// What discovery settled for one image.
    struct Outcome: Sendable, Equatable {
        /// The discovered tag; nil keeps the given one.
        var tag: String?
        /// The label that was missing when the given tag was kept.
        var missingLabel: String?
    }

    let client: RegistryClient
    /// A repository's tags and a tag's presence, asked once per run; a failure is the
    /// answer for the run, as upstream's one lookup per image is.
    private let tagLists = SingleFlight<String, [String]>(onFailure: .keepForTheRun)
    private let presence = SingleFlight<String, Bool>(onFailure: .keepForTheRun)

    init(client: RegistryClient) {
        self.client = client
    }

    /// The tag the labels give (nil keeps the given one, with the missing label), not yet
    /// checked at the source.
    static func candidate(_ template: TagTemplate, labels: [String: String], source: Reference) throws -> Outcome {
        guard let tag = try template.tagIfLabelled(labels: labels, image: source.description) else {
            return Outcome(tag: nil, missingLabel: template.missingLabel(in: labels))
        }
        return Outcome(tag: tag)
    }

    /// Throws ``TagNotFound`` (with the repository's tags) unless the source has `tag`;
    /// `image` is the image as planned, named in the error.
    func verify(_ tag: String, template: TagTemplate, source: Reference, image: String) async throws {
        if try await exists(source.withTag(tag)) { return }
        let available = try await tags(of: source)
        guard available.contains(tag) else {
            throw TagNotFound(image: ImageName.splitTag(image).name, tag: tag, template: template.description, available: available)
        }
    }

    /// Whether the registry has a manifest for `reference`'s tag: one `HEAD`, asked once per
    /// run for each tag however many images discover it.
    func exists(_ reference: Reference) async throws -> Bool {
        let client = self.client
        return try await presence.value(for: reference.description) { try await client.headManifest(reference) != nil }
    }

    /// The repository's tags (every page), fetched once and shared by every
    /// image of that repository.
    func tags(of reference: Reference) async throws -> [String] {
        let client = self.client
        return try await tagLists.value(for: "\(reference.registry)/\(reference.repository)") { try await client.listTags(reference) }
    }
}

/// A tag that `tag_from_label` gave but the source repository does not have.
struct TagNotFound: Error, CustomStringConvertible {
    var image: String
    var tag: String
    var template: String
    var available: [String]

    /// Shown at most, so a repository with thousands of tags stays one line.
    static let shownTags = 20

    var description: String {
        let sorted = available.sorted()
        var list = sorted.prefix(Self.shownTags).joined(separator: ", ")
        if sorted.isEmpty { list = "none" }
        if sorted.count > Self.shownTags { list += " and \(sorted.count - Self.shownTags) more" }
        // The tags are the registry's: escaped, so they stay on this line.
        return "image \(image) has no tag \(tag) (from tag_from_label \(template)); available tags: \(list)"
            .escapingControlCharacters()
    }
}
