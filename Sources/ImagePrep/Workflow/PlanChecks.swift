import Foundation
import ImagePrepPlan

/// Checks of a plan that need more than the planner's pure rules, made
/// before any registry is contacted (so `--dry-run` reports them): the
/// local paths of `modify_vars` exist.
enum PlanChecks {
    /// The `modify_vars` keys that name a local file or directory.
    static let pathVariables = ["rpms_path", "modify_dir_path", "yum_repos_dir_path", "python_dir"]

    /// `file` is the file that set `ContainerImagePrepare`.
    static func check(_ plan: PreparePlan, file: String) throws(PlanError) {
        // Once per entry: its images share its modify_vars.
        var varsChecked = Set<Int>()
        for image in plan.images {
            let key = "ContainerImagePrepare[\(image.entry)]"
            // The first image the entry modifies (modify_only_with_source may skip some).
            guard let modify = image.modify, varsChecked.insert(image.entry).inserted else { continue }
            for variable in modify.vars where pathVariables.contains(variable.key) {
                guard let path = variable.value.scalarText, !path.isEmpty else { continue }
                guard FileManager.default.fileExists(atPath: path) else {
                    throw PlanError.unsupported(
                        file: file, key: "\(key).modify_vars.\(variable.key)", reason: "\(path) does not exist")
                }
            }
        }
    }
}
