import ImagePrepConcurrency
import Foundation
import ImagePrep
import ImagePrepPlan
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// The workflow's rules over its stage seams, with in-process stages standing in for
/// registries: output files only when every image succeeded, results and progress events as
/// values, the summary's counts and bytes.
final class PrepareStagesTests: XCTestCase {
    /// Resolves every image as planned, after `delays[image]` when given.
    struct Resolver: ImageResolver {
        var delays: [String: Duration] = [:]

        func resolve(_ image: PlannedImage) async -> Result<ImageResolution, ImageFailure> {
            if let delay = delays.first(where: { image.imageName.contains($0.key) })?.value {
                try? await Task.sleep(for: delay)
            }
            return .success(ImageResolution(resolved: ResolvedImage(image: image, tag: nil, modified: false), sourceSize: 1000))
        }
    }

    /// Copies by reporting 1000 bytes per image, failing the images named in `failing`.
    final class Transfer: ImageTransfer {
        let failing: Set<String>
        let copied = Locked<[String]>([])

        init(failing: Set<String> = []) {
            self.failing = failing
        }

        func copy(_ image: ImageResolution, progress: ByteProgress) async -> ImageOutcome {
            let name = image.resolved.image.imageName
            if failing.contains(where: { name.contains($0) }) {
                return .failed(ImageFailure(image: name, kind: .registry, reason: "HTTP 500"))
            }
            progress(600)
            progress(400)
            copied.withLock { $0.append(name) }
            var report = CopyReport()
            report.blobs.copied = 2
            report.blobs.bytesCopied = 1000
            report.bytesNotCopied = 24
            return .copied(report)
        }

        func modify(_ image: ImageResolution) async -> ImageOutcome {
            .failed(ImageFailure(image: image.resolved.image.imageName, kind: .other, reason: "not expected"))
        }

        func finishWriting() async throws {}
        func notes() async -> TransferNotes { TransferNotes() }
    }

    final class Events: Sendable {
        let events = Locked<[ProgressEvent]>([])
        func record(_ event: ProgressEvent) { events.withLock { $0.append(event) } }
    }

    func workflow(in work: URL) throws -> PrepareWorkflow {
        let env = work.appendingPathComponent("env.yaml")
        try """
            parameter_defaults:
              ContainerImagePrepare:
              - push_destination: 127.0.0.1:5999
                includes: [keystone, nova-api, glance-api]
                set: {namespace: 127.0.0.1:5998/tripleomaster, name_prefix: centos-binary-, tag: current-tripleo}
            """.write(to: env, atomically: true, encoding: .utf8)
        var options = PrepareOptions()
        options.environmentFiles = [env.path]
        options.heatTemplatesDirectory = work.path
        options.outputEnvFile = work.appendingPathComponent("images-env.yaml").path
        options.outputImagesFile = work.appendingPathComponent("images.yaml").path
        return PrepareWorkflow(options: options)
    }

    func testOutputsAreWrittenOnlyWhenEveryImageSucceeded() async throws {
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let workflow = try workflow(in: work)
        let plan = try workflow.loadPlan()
        let count = plan.images.count
        XCTAssertGreaterThanOrEqual(count, 3)

        let transfer = Transfer(failing: ["nova-api"])
        do {
            _ = try await workflow.run(plan, resolver: Resolver(), transfer: transfer)
            XCTFail("a failed image fails the run")
        } catch {
            guard case .imagesFailed(let failures) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(failures.map(\.image), ["127.0.0.1:5998/tripleomaster/centos-binary-nova-api:current-tripleo"])
            XCTAssertEqual(failures.map(\.kind), [.registry])
        }
        // The other images were copied, but nothing was written.
        XCTAssertEqual(transfer.copied.withLock { $0.count }, count - 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("images-env.yaml").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("images.yaml").path))

        let events = Events()
        let result = try await workflow.run(plan, resolver: Resolver(), transfer: Transfer()) { events.record($0) }
        let written = try String(contentsOf: work.appendingPathComponent("images-env.yaml"), encoding: .utf8)
        XCTAssertTrue(written.contains("DockerKeystoneImage: 127.0.0.1:5999/tripleomaster/centos-binary-keystone:current-tripleo"), written)
        XCTAssertEqual(result.results.map(\.target), result.images.map(\.targetName), "results in plan order")
        let summary = try XCTUnwrap(result.summary)
        XCTAssertEqual([summary.images, summary.copied, summary.skipped, summary.modified, summary.failed], [count, count, 0, 0, 0])
        XCTAssertEqual(summary.bytesTransferred, Int64(1000 * count))
        XCTAssertEqual(summary.bytesMountedOrPresent, Int64(24 * count))

        // Progress as values: the count first, then each image started, its bytes, finished.
        let recorded = events.events.withLock { $0 }
        guard case .planned(let images)? = recorded.first else { return XCTFail("\(recorded)") }
        XCTAssertEqual(images, count)
        var bytes: [String: Int] = [:]
        var started: Set<String> = []
        var finished: [String] = []
        for event in recorded.dropFirst() {
            switch event {
            case .planned: XCTFail("planned twice")
            case .started(let target, let expected):
                started.insert(target)
                XCTAssertEqual(expected, 1000)
            case .bytes(let target, let count):
                XCTAssertTrue(started.contains(target) && !finished.contains(target), target)
                bytes[target, default: 0] += count
            case .finished(let result):
                XCTAssertTrue(started.contains(result.target), result.target)
                finished.append(result.target)
            }
        }
        XCTAssertEqual(Set(finished), Set(result.images.map(\.targetName)))
        XCTAssertEqual(bytes.values.sorted(), Array(repeating: 1000, count: count))
    }

    func testImagesAreCopiedWhileAnotherIsStillResolving() async throws {
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let workflow = try workflow(in: work)
        let plan = try workflow.loadPlan()
        let slow = try XCTUnwrap(plan.images.first { $0.imageName.contains("/centos-binary-keystone:") })
        let events = Events()
        let result = try await workflow.run(
            plan, resolver: Resolver(delays: ["/centos-binary-keystone:": .milliseconds(500)]), transfer: Transfer()) { events.record($0) }
        let recorded = events.events.withLock { $0 }
        let slowStarted = try XCTUnwrap(recorded.firstIndex {
            if case .started(let target, _) = $0 { return target.contains("/centos-binary-keystone:") } else { return false }
        })
        let finishedBefore = recorded[..<slowStarted].filter { if case .finished = $0 { true } else { false } }.count
        XCTAssertEqual(finishedBefore, plan.images.count - 1, "the other images were copied while \(slow.imageName) resolved")
        XCTAssertEqual(result.results.map(\.target), result.images.map(\.targetName), "results in plan order")
    }
}
