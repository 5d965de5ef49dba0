import CFuzzDriver
import Foundation
import ImagePrepArchive
import ImagePrepBuild
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// One parser of untrusted bytes, fed by libFuzzer. The process fuzzes the
/// one named by `IMAGEPREP_FUZZ_TARGET` (scripts/fuzz runs one process per
/// target). Errors thrown by a parser are the expected outcome; a crash, a
/// sanitizer report, a hang or a file written outside the extraction
/// directory is a finding.
enum FuzzTarget: String, CaseIterable, Sendable {
    /// An RPM file: lead, signature and main header, then the payload.
    case rpm
    /// An image layer tarball, extracted into a scratch directory.
    case layer
    /// A `Dockerfile.modified` read as a layer-engine recipe.
    case recipe
    /// A catalog template, parsed and rendered.
    case template
    /// An image reference.
    case reference
    /// A `WWW-Authenticate` header.
    case challenge
    /// A manifest or manifest list, decoded as the registry client decodes them.
    case manifest

    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .rpm: fuzzRPM(bytes)
        case .layer: fuzzLayer(bytes)
        case .recipe: _ = try? LayerRecipe.parse(String(decoding: bytes, as: UTF8.self))
        case .template: fuzzTemplate(String(decoding: bytes, as: UTF8.self))
        case .reference: fuzzReference(String(decoding: bytes, as: UTF8.self))
        case .challenge: _ = AuthChallenge(header: String(decoding: bytes, as: UTF8.self))
        case .manifest: fuzzManifest(Data(bytes))
        }
    }
}

let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["IMAGEPREP_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("IMAGEPREP_FUZZ_TARGET must be one of: \(names)\n".utf8))
        exit(2)
    }
    return target
}()

/// A scratch directory of this process, removed and made again per input.
let scratch: URL = FileManager.default.temporaryDirectory
    .appendingPathComponent("imageprep-fuzz-\(getpid())", isDirectory: true)

/// libFuzzer's callback, once per input. (libFuzzer's own main(), linked in
/// whole, needs the symbol even though `FuzzMain` replaces that main.)
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selectedTarget.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

/// SwiftPM links an executable's Swift main() as the program's main, so the
/// Swift main hands the process to libFuzzer's driver, which reads its flags
/// from the command line.
@main
struct FuzzMain {
    static func main() {
        _ = selectedTarget
        var argc = CommandLine.argc
        var argv = Optional(CommandLine.unsafeArgv)
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
    }
}

func freshScratch() -> URL {
    try? FileManager.default.removeItem(at: scratch)
    try! FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    return scratch
}

func fuzzRPM(_ bytes: UnsafeRawBufferPointer) {
    let file = freshScratch().appendingPathComponent("input.rpm")
    try! Data(bytes).write(to: file)
    _ = try? RPMInspection.inspect(path: file.path)
}

/// Applies the bytes as two layers, one on top of the other (the second
/// meets what the first wrote: whiteouts, replaced files and links), then
/// checks that nothing but the root appeared in the scratch directory.
func fuzzLayer(_ bytes: UnsafeRawBufferPointer) {
    let base = freshScratch()
    let root = base.appendingPathComponent("root", isDirectory: true)
    try! FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    var extractor = LayerExtractor(root: root)
    for layer in ["sha256:first", "sha256:second"] {
        var offset = 0
        do {
            let reader = try ArchiveReader(source: layer) { buffer in
                let count = min(buffer.count, bytes.count - offset)
                if count > 0 {
                    buffer.baseAddress!.copyMemory(from: bytes.baseAddress!.advanced(by: offset), byteCount: count)
                }
                offset += count
                return count
            }
            try extractor.apply(reader, layer: layer)
        } catch {
            break
        }
    }
    let escaped = (try? FileManager.default.contentsOfDirectory(atPath: base.path)) ?? []
    precondition(escaped == ["root"], "the layer wrote outside the extraction directory: \(escaped)")
}

/// Renders with a context like a catalog's, and a loader that serves one
/// fixed template and, for `self.j2`, the input itself (include loops).
func fuzzTemplate(_ source: String) {
    guard let template = try? Template(source: source, file: "catalog/fuzz.j2") else { return }
    let context: TemplateContext = [
        "namespace": .string("quay.io/tripleomastercentos9"), "name_prefix": .string("openstack-"),
        "name_suffix": .string(""), "tag": .string("current-tripleo"), "neutron_driver": .string("ovn"),
        "ceph_images": .bool(true), "empty": .string(""), "none": .null,
    ]
    let loader: Template.Loader = { path in
        switch path {
        case "catalog/self.j2": source
        case "catalog/part.j2": "{{ namespace }}/{{ name_prefix }}{% if ceph_images %}ceph{% endif %}\n"
        default: nil
        }
    }
    _ = try? template.render(context, loader: loader)
    _ = try? template.render(context, loader: loader, strict: true)
}

/// A reference that parses prints as text that parses to the same reference.
func fuzzReference(_ text: String) {
    guard let reference = try? Reference(text) else { return }
    let again = try? Reference(reference.description)
    precondition(again == reference, "'\(text)' parsed as \(reference), which does not parse back to itself")
}

/// Decodes the bytes as an image manifest and as a manifest list: every descriptor that
/// decodes has a size from 0 to `Descriptor.maxSize`, so the sizes add up without
/// overflow. The bytes as text, escaped for printing, hold no control character.
func fuzzManifest(_ data: Data) {
    let printed = String(decoding: data, as: UTF8.self).escapingControlCharacters()
    precondition(!printed.unicodeScalars.contains { $0.properties.generalCategory == .control }, "'\(printed)' still holds a control character")
    var descriptors: [Descriptor] = []
    if let manifest = try? JSONDecoder().decode(Manifest.self, from: data) { descriptors += manifest.blobs }
    if let index = try? JSONDecoder().decode(Index.self, from: data) { descriptors += index.manifests }
    var total: Int64 = 0
    for descriptor in descriptors {
        precondition((0...Descriptor.maxSize).contains(descriptor.size), "a descriptor of \(descriptor.size) bytes decoded")
        total += descriptor.size
    }
    precondition(total == descriptors.totalSize)
}
