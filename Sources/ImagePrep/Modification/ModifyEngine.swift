/// Which engine modifies an image.
public enum ModifyEngine: String, Sendable, CaseIterable {
    /// The layer engine when the task allows it (a `modify_image` Dockerfile without `RUN`, an
    /// `rpm_install` whose RPMs have no scriptlets), buildah otherwise.
    case auto
    case buildah
    /// Only the layer engine: a Dockerfile that needs buildah is an error.
    case layer
    /// The upstream `tripleo-modify-image` role itself, through `ansible-playbook` with the
    /// entry's `modify_vars`, as tripleo-common runs any role: for operators who need its
    /// exact behaviour.
    case ansible
}
