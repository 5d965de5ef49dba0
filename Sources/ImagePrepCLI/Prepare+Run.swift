import ArgumentParser
import Foundation
import ImagePrep
import ImagePrepPlan

extension Imageprep.Prepare {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Prepare the images of a ContainerImagePrepare environment (the default subcommand).",
            discussion: """
                Environment files merge in order, later over earlier. Without ContainerImagePrepare \
                the default entry ('imageprep prepare default') applies. The output env file is \
                written only when every image succeeded.
                """
        )

        @OptionGroup var input: PrepareInputOptionGroup

        @Option(help: ArgumentHelp("Write the heat parameters to this file.", valueName: "file"))
        var outputEnvFile: String?

        @Option(help: ArgumentHelp("Write the planned images to this file.", valueName: "file"))
        var outputImagesFile: String?

        @Option(help: ArgumentHelp("Write the packages each modification added, upgraded, downgraded or removed to this file (JSON).", valueName: "file"))
        var report: String?

        @Flag(help: "Plan only: no registry is contacted and tags stay as given.")
        var dryRun = false

        @Flag(help: "With --dry-run: look tags and labels up at the registries (read-only: nothing is copied or built), so the plan and the env file show what a real run writes.")
        var discover = false

        @Option(
            help: ArgumentHelp(
                "Compare with this deployed env file (an earlier prepare's --output-env-file) instead of preparing: one line per image parameter a prepare would change (a role's own as <Role>Parameters.NAME), and images changed under the same tag. Tags are looked up as with --dry-run --discover; reads only, writes nothing. Exit status 0: no differences, 3: differences.",
                valueName: "file"))
        var diff: String?

        @Option(help: ArgumentHelp("Read every source image from this bundle ('imageprep bundle create' on a connected host: a layout directory or a .tar), none from a registry: manifests, labels and tags come from the bundle's index and configs; copies go to the push destinations. Images to modify are refused.", valueName: "dir|file.tar"))
        var fromBundle: String?

        @Flag(help: "Print the result as JSON.")
        var json = false

        @Option(help: ArgumentHelp("Append what the run did to this file (created 0600): each image's outcome, warnings, the report and the summary, or the error, one timestamped line each; as upstream's /var/log/tripleo-container-image-prepare.log.", valueName: "file"))
        var logFile: String?

        @Option(help: ArgumentHelp("How to show progress on standard error: auto (tty on a terminal, else plain), tty (a status redrawn in place), plain (a status line now and then, no control characters), none.", valueName: "mode"))
        var progress: ProgressMode = .auto

        @Option(help: ArgumentHelp("Seconds between plain progress lines.", visibility: .hidden))
        var progressInterval: Double = 5

        @OptionGroup(title: "Registries") var registry: RegistryOptionGroup

        @OptionGroup(title: "Modification") var build: BuildOptionGroup

        func validate() throws {
            if !input.isGiven {
                throw ValidationError("give at least one environment file with -e FILE (or --environment-directory DIR)")
            }
            guard progressInterval > 0 else { throw ValidationError("--progress-interval must be more than 0 seconds") }
            if diff != nil && fromBundle != nil { throw ValidationError("--diff reads the registries: drop --from-bundle") }
            if diff != nil {
                for (given, name) in [(outputEnvFile, "--output-env-file"), (outputImagesFile, "--output-images-file"), (report, "--report")]
                where given != nil {
                    throw ValidationError("--diff writes no file: drop \(name)")
                }
            } else if discover && !dryRun {
                throw ValidationError("--discover goes with --dry-run (a real run always looks tags and labels up)")
            }
        }

        func run() async throws {
            var options = PrepareOptions(input)
            options.outputEnvFile = outputEnvFile
            options.outputImagesFile = outputImagesFile
            options.reportFile = report
            options.dryRun = dryRun
            options.discover = discover
            options.registry = RegistryOptions(registry)
            options.modification = ModificationOptions(build)
            options.bundle = fromBundle.map { URL(fileURLWithPath: $0) }
            if let diff {
                try await Self.runDiff(against: diff, options: options, json: json)
                return
            }

            // A real run draws its progress; --json alone keeps standard error for errors.
            let mode: ProgressMode = dryRun ? .none : (json && progress == .auto ? .none : progress)
            let display = ProgressDisplay.make(mode, interval: .milliseconds(Int(progressInterval * 1000)))
            let log = try logFile.map(RunLog.init(path:))
            log?.write("prepare started: " + (input.environmentDirectory.map { "--environment-directory \($0)" } + input.environmentFiles.map { "-e \($0)" })
                .joined(separator: " ") + (dryRun ? " (dry run)" : ""))
            display?.begin()
            let result: PrepareResult
            do {
                result = try await PrepareWorkflow(options: options).run { event in
                    display?.handle(event)
                    log?.handle(event)
                }
            } catch {
                display?.finish()
                log?.fail(error)
                // --json still answers on standard output: which images failed, how and why.
                if json, case PrepareError.imagesFailed(let failures) = error {
                    try printJSON(PrepareFailuresJSON(failures: failures))
                }
                throw error
            }
            display?.stop()
            for warning in result.plan.warnings {
                FileHandle.standardError.write(Data("Warning: \(warning)\n".utf8))
            }
            let report = ReportText.report(result)
            log?.finish(result, report: report)
            if json {
                try printJSON(PrepareJSON(result: result, report: report))
            } else if dryRun {
                print(PlanTable.render(result), terminator: "")
            } else {
                // The plan and the run's report for the operator; the env file's
                // text on standard output when it is not written to a file.
                let table = PlanTable.render(result) + report.map { $0 + "\n" }.joined()
                FileHandle.standardError.write(Data(table.utf8))
                if outputEnvFile == nil { print(result.environmentYAML, terminator: "") }
            }
            display?.finish()
        }
    }
}

extension Imageprep.Prepare.Run {
    /// `prepare --diff`'s exit status when a prepare would change something (0: nothing;
    /// 1 and 2 are failures and usage errors).
    static let differencesExitCode: Int32 = 3

    /// `prepare --diff FILE`: the differences on standard output, as text or JSON; exits
    /// with ``differencesExitCode`` when there are any.
    static func runDiff(against deployedFile: String, options: PrepareOptions, json: Bool) async throws {
        let result = try await PrepareWorkflow(options: options).diff(against: deployedFile)
        for warning in result.warnings {
            FileHandle.standardError.write(Data("Warning: \(warning)\n".utf8))
        }
        if json {
            try printJSON(result)
        } else {
            print(DiffText.render(result), terminator: "")
        }
        if !result.diff.isEmpty { throw ExitCode(differencesExitCode) }
    }
}

/// `prepare --json` when images failed (and no output was written): each failure with its
/// image, its kind (`registry`, `build`, `tag_discovery`, `destination`, `other`) and reason.
struct PrepareFailuresJSON: Encodable {
    var failed = true
    var failures: [ImageFailure]
}

/// `prepare --json`: the result, with the report's lines as the operator reads them.
struct PrepareJSON: Encodable {
    var result: PrepareResult
    var report: [String]

    enum CodingKeys: String, CodingKey {
        case report
    }

    func encode(to encoder: any Encoder) throws {
        try result.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(report, forKey: .report)
    }
}
