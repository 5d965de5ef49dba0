/// Which engine modifies an image.
public enum ModifyEngine: String, Sendable, CaseIterable {
    /// The layer engine when the Dockerfile allows it (a `modify_image` without `RUN`),
    /// buildah otherwise.
    case auto
    case buildah
    /// Only the layer engine: a Dockerfile that needs buildah is an error.
    case layer
}
