import ArgumentParser
import Foundation
import ImagePrepArchive

extension Imageprep {
    struct RPM: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rpm",
            abstract: "Look inside RPM files.",
            subcommands: [Inspect.self]
        )
    }
}

extension Imageprep.RPM {
    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Show the NEVRA, summary and files of RPM files.",
            discussion: "The header is read directly and the payload streamed through libarchive, so a corrupt package is reported here rather than inside an image build."
        )

        @Argument(help: ArgumentHelp("RPM files to inspect.", valueName: "file"))
        var files: [String]

        @Flag(help: "Print the result as JSON.")
        var json = false

        func validate() throws {
            if files.isEmpty { throw ValidationError("give at least one RPM file") }
        }

        func run() async throws {
            var inspections: [RPMInspection] = []
            for file in files {
                inspections.append(try RPMInspection.inspect(path: file))
            }
            if json {
                try printJSON(inspections)
                return
            }
            for inspection in inspections {
                let package = inspection.package
                print("\(package.nevra)  (\(inspection.file))")
                print("  summary: \(package.summary)")
                print("  payload: \(package.payloadFormat ?? "cpio"), \(package.payloadCompressor ?? "gzip"), \(inspection.payload.count) entries")
                for entry in inspection.payload {
                    print("  \(entry.mode.padding(toLength: 6, withPad: " ", startingAt: 0)) \(String(entry.size).padding(toLength: 10, withPad: " ", startingAt: 0)) \(entry.path)\(entry.linkTarget.map { " -> \($0)" } ?? "")")
                }
            }
        }
    }
}
