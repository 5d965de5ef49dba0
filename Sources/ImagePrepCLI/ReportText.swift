import Foundation
import ImagePrep
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// The operator's text for what the library reports as values: one line per image, the
/// run's counts, the final summary.
enum ReportText {
    /// `count` bytes in B, KiB, MiB, GiB or TiB.
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// What placing a blob without transferring it is called at the destination.
    static func mountedWord(_ destination: DestinationKind) -> String {
        destination == .imageServe ? "hard-linked" : "mounted"
    }

    /// The report's lines for one image's transfer (a second line for its package changes),
    /// with any control character from outside escaped but their own line break.
    static func line(_ result: ImageResult) -> String {
        text(result).escapingControlCharacters(keepingLineBreaks: true)
    }

    private static func text(_ result: ImageResult) -> String {
        let target = result.target
        switch result.outcome {
        case .copied(let report):
            let blobs = report.blobs
            if let id = report.localImageID {
                return "copied  \(target) (from local container storage, image \(id.prefix(12)); "
                    + "\(blobs.copied) blob(s) pushed, \(blobs.mounted) mounted, \(blobs.present) present)"
            }
            let mirror = report.mirror.map { ", from mirror \($0)" } ?? ""
            return "copied  \(target) (\(blobs.copied) blob(s) copied, \(blobs.mounted) \(mountedWord(report.destination)), "
                + "\(blobs.present) present, \(bytes(blobs.bytesCopied))\(mirror))"
        case .skipped(.alreadyThere(let digest)):
            return "skipped \(target) (already there\(digest.map { ", \($0)" } ?? ""))"
        case .skipped(.alreadyModified):
            return "skipped \(target) (already modified)"
        case .modified(let report):
            var line = "built   \(target) (\(modification(report)))"
            if let changes = report.packageChanges { line += "\n" + changes.summary }
            return line
        case .failed(let failure):
            return "FAILED  \(target): \(failure.reason)"
        }
    }

    /// What a modification built, as `imageprep modify` and `prepare` print it.
    static func modification(_ report: ModificationReport) -> String {
        let blobs = report.blobs
        let mounted = mountedWord(report.destination)
        switch report.engine {
        case .buildah(let reused):
            var note = ""
            switch report.note {
            case .layerEngineDeclined(let reason)?: note = " (\(reason))"
            case .hostPackages(let names)? where names.isEmpty:
                note = " (compare_host_packages: no package differs from the host's, nothing updated)"
            case .hostPackages(let names)?:
                note = " (compare_host_packages: \(names.joined(separator: ", ")) differ(s) from the host's, updating)"
            case nil: break
            }
            return "\(report.task), buildah\(note), \(reused) base layer(s) reused, "
                + "\(blobs.copied) blob(s) pushed, \(blobs.mounted) \(mounted), \(blobs.present) present"
        case .ansible(let reused):
            return "\(report.task), ansible-playbook, \(reused) base layer(s) reused, "
                + "\(blobs.copied) blob(s) pushed, \(blobs.mounted) \(mounted), \(blobs.present) present"
        case .layer(let size):
            return "\(report.task), layer engine, "
                + (size.map { "1 layer of \(bytes($0)) appended" } ?? "config only, no layer")
                + "; base layers: \(blobs.present) present, \(blobs.mounted) \(mounted), "
                + "\(blobs.copied) copied (\(bytes(blobs.bytesCopied)))"
        case .rpmInstall(let installed, let size, let whitedOut):
            return "\(report.task), layer engine, \(installed.joined(separator: ", ")) installed"
                + (size.map { ", 1 layer of \(bytes($0)) appended" } ?? "")
                + ", \(whitedOut) old file(s) whited out; base layers: \(blobs.present) present, \(blobs.mounted) \(mounted), "
                + "\(blobs.copied) copied (\(bytes(blobs.bytesCopied)))"
        }
    }

    /// The hotfix decision of an rpm_install with `--only-images-with-packages`.
    static func hotfix(_ resolution: ImageResolution) -> String? {
        guard let plan = resolution.hotfix else { return nil }
        let image = resolution.resolved.image.imageName
        guard plan.applies else { return "hotfix  \(image): none of the hotfix packages is installed, not modified" }
        return "hotfix  \(image): " + plan.replacements.map { "\($0.installed) -> \($0.replacement)" }.joined(separator: ", ")
    }

    /// The run's report after the plan: hotfix decisions, one line per image, the counts,
    /// and where image-serve registries' files are. Empty when nothing was transferred.
    static func report(_ result: PrepareResult) -> [String] {
        guard result.summary != nil else { return [] }
        var lines = result.resolutions.compactMap(hotfix)
        let succeeded = result.results.filter { if case .failed = $0.outcome { false } else { true } }
        lines += succeeded.map(line)
        let copies = result.results.filter { $0.work == .copy }.count
        let modifications = result.results.filter { $0.work == .modify }.count
        let failed = result.results.count - succeeded.count
        lines.append("\(copies) image(s) copied or already present, \(modifications) modified, \(failed) failed.")
        for registry in result.notes.imageServeRegistries {
            lines.append("\(registry) is an image-serve registry (no push API): its images are files in \(result.notes.imageServeDirectory), which its httpd serves.")
        }
        return lines
    }

    /// The final summary line.
    static func summary(_ summary: TransferSummary) -> String {
        "summary: \(summary.images) image(s): \(summary.copied) copied, \(summary.skipped) skipped, "
            + "\(summary.modified) modified, \(summary.failed) failed; \(bytes(summary.bytesTransferred)) transferred, "
            + "\(bytes(summary.bytesMountedOrPresent)) mounted or already present; "
            + String(format: "%.1f s, ", summary.seconds) + rate(summary.bytesPerSecond)
    }

    /// A transfer rate, always in MiB/s.
    static func rate(_ bytesPerSecond: Double) -> String {
        String(format: "%.1f MiB/s", bytesPerSecond / 1_048_576)
    }
}
