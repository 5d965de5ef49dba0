import Foundation
import ImagePrepOCI
import ImagePrepRegistry

extension ImageOperations {
    /// Writes the given source images into an OCI image layout bundle at `output`.
    public func bundleCreate(_ images: [String], output: URL) async throws -> BundleWriter.Report {
        var references: [Reference] = []
        for image in images { references.append(try Self.reference(image)) }
        try sources.checkNotBlocked(references)
        return try await BundleWriter(client: client).write(references, to: output)
    }

    /// Places every image of the bundle at `registry` (a push registry or the image-serve
    /// directory's registry), keeping each image's repository and tag.
    public func bundleLoad(_ layout: URL, registry: String) async throws -> [(Reference, OCILayoutPush.Report)] {
        let copier = ImageCopier(client: client, destinations: destinations)
        return try await BundleLoader(copier: copier).load(layout) { source in
            Reference(registry: registry, repository: source.repository, tag: source.tag)
        }
    }
}
