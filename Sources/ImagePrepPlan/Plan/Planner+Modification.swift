import Foundation
import ImagePrepOCI

extension Planner {
    /// An image the run reads (its tag from a label, copied, or modified) gets its names
    /// parsed now, so a bad one stops the plan (also `--dry-run`) instead of its resolution.
    /// An image only named in a parameter is written as it is, as upstream does.
    static func parseNames(of image: inout PlannedImage, entry: PrepareEntry, file: String) throws(PlanError) {
        guard image.tagFromLabel != nil || image.pushDestination != nil || image.modify != nil,
            !ImageName.isLocal(image.imageName)
        else { return }
        for name in [image.pullName, image.targetName()] {
            do {
                let reference = try Reference(name)
                if name == image.pullName { image.pullReference = reference }
            } catch {
                throw PlanError.unsupported(file: file, key: entry.key, reason: "\(error)")
            }
        }
    }

    /// The modification of one image, as upstream's `container_images_prepare` decides it:
    /// an entry with neither `modify_only_with_labels` nor `modify_only_with_source` modifies
    /// every image; otherwise an image is modified when it matches either. A source match is
    /// known now and modifies the image whatever its labels; without one, the image is
    /// modified only if the label filter (checked at resolution) matches.
    static func modify(_ image: CatalogEntry, request: ModifyRequest?, entry: PrepareEntry) -> ModifyRequest? {
        guard var request else { return nil }
        let sources = entry.modifyOnlyWithSource
        if sources.isEmpty { return request }
        if sources.contains(image.source ?? "") {
            request.onlyWithLabels = []
            return request
        }
        return request.onlyWithLabels.isEmpty ? nil : request
    }

    /// Whether `role` is the built-in `tripleo-modify-image` (or its package name), which
    /// imageprep performs itself; any other role runs through `ansible-playbook`.
    public static func isBuiltInRole(_ role: String) -> Bool {
        role == modifyRole || role == modifyRoleAlias
    }

    func modifyRequest(for entry: PrepareEntry, pushDestination: String?, file: String) throws(PlanError) -> ModifyRequest? {
        guard let role = entry.modifyRole else { return nil }
        let key = entry.key
        guard pushDestination != nil else {
            throw PlanError.unsupported(
                file: file, key: key,
                reason: "modify_role needs a push_destination: modified images are pushed there")
        }
        // The built-in role's variables are checked now so a bad one stops the run before
        // anything is built; an operator's own role gets its modify_vars as they are.
        let task = Self.isBuiltInRole(role) ? try ModifyTask.parse(entry.modifyVars, file: file, key: key) : nil
        return ModifyRequest(
            role: role, task: task, vars: entry.modifyVars, appendTag: entry.modifyAppendTag ?? Self.defaultAppendTag(now),
            onlyWithLabels: entry.modifyOnlyWithLabels)
    }

    /// `-modified-YYYYmmddHHMMSS` in UTC.
    public static func defaultAppendTag(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss"
        return "-modified-" + formatter.string(from: date)
    }
}
