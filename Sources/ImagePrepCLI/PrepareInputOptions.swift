import ArgumentParser
import ImagePrep

/// The flags that say which environment a prepare plans, and with which roles and catalog:
/// one declaration for `prepare` and `bundle create` (which bundles what that prepare copies).
struct PrepareInputOptionGroup: ParsableArguments {
    @Option(name: [.customShort("e"), .customLong("environment-file")], help: ArgumentHelp("Environment file; repeat for more, later ones win.", valueName: "file"))
    var environmentFiles: [String] = []

    @Option(help: ArgumentHelp("Also read every *.yaml file of this directory, by name, before the -e files (repeatable).", valueName: "dir"))
    var environmentDirectory: [String] = []

    @Option(
        name: [.customShort("r"), .long],
        help: ArgumentHelp("Roles file: keep only images of services enabled on roles with nodes (default: /usr/share/openstack-tripleo-heat-templates/roles_data.yaml when it exists).", valueName: "file"))
    var rolesFile: String?

    @Option(help: ArgumentHelp("Render this catalog template (Jinja2 subset) instead of the built-in catalog.", valueName: "file"))
    var templateFile: String?

    @OptionGroup var catalogOption: CatalogOption

    /// An environment file or directory was given.
    var isGiven: Bool { !environmentFiles.isEmpty || !environmentDirectory.isEmpty }
}

extension PrepareOptions {
    /// The options of a prepare of `input`'s environment; the rest as their defaults.
    init(_ input: PrepareInputOptionGroup) {
        self.init()
        environmentFiles = input.environmentFiles
        environmentDirectories = input.environmentDirectory
        rolesFile = input.rolesFile
        templateFile = input.templateFile
        catalog = input.catalogOption.chosen.catalog
        catalogChosen = input.catalogOption.catalog != nil
    }
}
