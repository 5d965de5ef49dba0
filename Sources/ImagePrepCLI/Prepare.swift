import ArgumentParser
import ImagePrepPlan

extension Imageprep {
    struct Prepare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Work out, copy and modify the images of a ContainerImagePrepare environment.",
            discussion: """
                'imageprep prepare -e FILE' runs a prepare; 'imageprep prepare default' writes the \
                default ContainerImagePrepare environment to start from.
                """,
            subcommands: [Run.self, Default.self],
            defaultSubcommand: Run.self
        )
    }
}

enum CatalogName: String, ExpressibleByArgument, CaseIterable {
    case stein, master

    var catalog: Catalog {
        switch self {
        case .stein: .stein
        case .master: .master
        }
    }
}

struct CatalogOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Built-in image catalog: 'stein' (centos-binary-* images, Docker*Image parameters, as the prepare documentation describes) or 'master' (the last upstream: openstack-* images, Container*Image parameters).",
            valueName: "name"))
    var catalog: CatalogName?

    /// The catalog asked for, else `stein`.
    var chosen: CatalogName { catalog ?? .stein }
}
