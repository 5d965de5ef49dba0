import Foundation
import ImagePrep
import ImagePrepPlan

/// The readable summary of a prepare run: one row per image.
enum PlanTable {
    static func render(_ result: PrepareResult) -> String {
        var rows = [["ENTRY", "IMAGE", "TARGET", "NOTES"]]
        for image in result.images {
            var notes: [String] = []
            if let role = image.image.roleParameters {
                notes.append("written as \(role) (\(role.dropLast("Parameters".count))ContainerImagePrepare)")
            }
            if let label = image.image.tagFromLabel, image.tag == nil, image.missingLabel == nil {
                notes.append(result.dryRun && !result.discovered ? "tag from label \(label) (not looked up)" : "tag from label \(label)")
            }
            if let label = image.missingLabel {
                notes.append("kept tag: no label \(label)")
            }
            if let modify = image.image.modify {
                let task = modify.task == nil
                    ? "role \(modify.role) (ansible-playbook)"
                    : modify.vars.first { $0.key == "tasks_from" }?.value.scalarText ?? modify.role
                if image.modified {
                    notes.append("modify: \(task)")
                } else if !modify.onlyWithLabels.isEmpty {
                    notes.append("modify: \(task) if labels \(modify.onlyWithLabels.joined(separator: ", "))")
                }
            }
            rows.append([String(image.image.entry), image.sourceName, image.targetName, notes.joined(separator: "; ")])
        }
        let widths = (0..<3).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = rows.map { row in
            var line = ""
            for column in 0..<3 { line += row[column].padding(toLength: widths[column] + 2, withPad: " ", startingAt: 0) }
            return (line + row[3]).trimmingTrailingSpaces()
        }
        let entries = Set(result.images.map { "\($0.image.roleParameters ?? "")[\($0.image.entry)]" }).count
        var summary = "\(result.images.count) image(s) from \(entries) entr\(entries == 1 ? "y" : "ies"), "
            + "\(result.parameters.count) heat parameter(s)"
        for role in result.plan.roleParameters {
            let count = result.images.filter { $0.image.roleParameters == role }.reduce(into: Set<String>()) { $0.formUnion($1.image.params) }.count
            summary += " and \(count) in \(role)"
        }
        if !result.plan.pushDestinations.isEmpty {
            summary += ", pushed to \(result.plan.pushDestinations.joined(separator: ", "))"
        }
        lines.append("")
        lines.append(summary + ".")
        if let rolesFile = result.rolesFile {
            lines.append("Roles file: \(rolesFile) (only images of services enabled on roles with nodes).")
        } else {
            lines.append("No roles file: every image of the catalog is kept.")
        }
        let kept = result.images.filter { $0.missingLabel != nil }
        if !kept.isEmpty {
            lines.append("\(kept.count) image(s) kept their given tag: the tag_from_label label is missing (as upstream).")
        }
        if result.discovered {
            lines.append("Dry run with --discover: tags and labels were looked up (read-only); nothing was copied or modified.")
        } else if result.dryRun {
            lines.append("Dry run: no registry was contacted; tags are as given, nothing was copied or modified.")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
