/// The `ContainerImagePrepare` that `prepare default` writes and that
/// applies when an environment has none.
public enum DefaultPrepare {
    /// The `set` values of the default entry for a catalog.
    public static func set(for catalog: Catalog) -> [ConfigEntry] {
        switch catalog.name {
        case Catalog.master.name:
            return [
                ConfigEntry("ceph_image", .string("daemon")),
                ConfigEntry("ceph_namespace", .string("quay.rdoproject.org/tripleomastercentos9")),
                ConfigEntry("ceph_tag", .string("current-ceph")),
                ConfigEntry("name_prefix", .string("openstack-")),
                ConfigEntry("name_suffix", .string("")),
                ConfigEntry("namespace", .string("quay.io/tripleomastercentos9")),
                ConfigEntry("neutron_driver", .null),
                ConfigEntry("tag", .string("current-tripleo")),
            ]
        default:
            // The values the prepare documentation shows.
            return [
                ConfigEntry("ceph_image", .string("daemon")),
                ConfigEntry("ceph_namespace", .string("docker.io/ceph")),
                ConfigEntry("ceph_tag", .string("v3.0.3-stable-3.0-luminous-centos-7-x86_64")),
                ConfigEntry("name_prefix", .string("centos-binary-")),
                ConfigEntry("name_suffix", .string("")),
                ConfigEntry("namespace", .string("docker.io/tripleomaster")),
                ConfigEntry("neutron_driver", .null),
                ConfigEntry("tag", .string("current-tripleo")),
            ]
        }
    }

    /// The `ContainerImagePrepare` entry, keys sorted as the documentation
    /// prints them.
    public static func entry(for catalog: Catalog, localPushDestination: Bool) -> ConfigValue {
        var fields: [ConfigEntry] = []
        if localPushDestination { fields.append(ConfigEntry("push_destination", .bool(true))) }
        fields.append(ConfigEntry("set", .map(set(for: catalog))))
        fields.append(ConfigEntry("tag_from_label", .string(catalog.defaultTagFromLabel ?? "rdo_version")))
        return .map(fields)
    }

    /// The whole environment document `prepare default` writes.
    public static func document(for catalog: Catalog, localPushDestination: Bool, registryLogin: Bool) -> ConfigValue {
        var parameters = [ConfigEntry("ContainerImagePrepare", .list([entry(for: catalog, localPushDestination: localPushDestination)]))]
        if registryLogin { parameters.append(ConfigEntry("ContainerImageRegistryLogin", .bool(true))) }
        return .map([ConfigEntry("parameter_defaults", .map(parameters))])
    }
}
