// Yams's own libyaml (its CYaml module), read here event by event, before
// Yams composes the document: Yams expands every alias and hashes every
// mapping key, so an alias bomb would fill memory, or an alias used as a key
// would hash a billion nodes, before any bound of ours could act.
import CYaml

/// Checks a YAML document's shape before it is composed: how large it is with
/// every alias expanded (at most `aliasValues` values and `aliasScalarBytes`
/// bytes of text beyond what the text itself holds), and that no mapping key
/// is a list or mapping (PyYAML refuses those: "found unhashable key").
/// Linear in the text; malformed YAML is left to the composer's error.
enum AliasExpansionCheck {
    static let aliasValues = 200_000
    static let aliasScalarBytes = 16 << 20

    /// One open list or mapping: whether it is a mapping, how many events
    /// of it were read (a mapping's even ones are keys), its anchor, and its
    /// expanded size so far.
    private struct Frame {
        var isMapping: Bool
        var children = 0
        var anchor: String?
        var size = Size()
    }

    private struct Size {
        var values = 0
        var bytes = 0
    }

    static func check(_ text: String, file: String) throws(PlanError) {
        var utf8 = Array(text.utf8)
        let limit = Size(values: aliasValues + utf8.count, bytes: aliasScalarBytes + utf8.count)
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        try utf8.withUnsafeMutableBufferPointer { buffer throws(PlanError) in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var stack: [Frame] = []
            var anchors: [String: (size: Size, isCollection: Bool)] = [:]
            // Every value expanded so far, open collections included: it only grows.
            var total = Size()

            func add(_ size: Size) throws(PlanError) {
                total.values += size.values
                total.bytes += size.bytes
                if !stack.isEmpty {
                    stack[stack.count - 1].size.values += size.values
                    stack[stack.count - 1].size.bytes += size.bytes
                }
                if total.values > limit.values { throw tooLarge(file, "\(limit.values) values") }
                if total.bytes > limit.bytes { throw tooLarge(file, "\(limit.bytes) bytes of text") }
            }
            /// Counts a child of the open collection; a list or mapping where a
            /// mapping wants a key is refused.
            func child(isCollection: Bool, line: Int, column: Int) throws(PlanError) {
                guard !stack.isEmpty else { return }
                if stack[stack.count - 1].isMapping && stack[stack.count - 1].children % 2 == 0 && isCollection {
                    throw PlanError.invalidYAML(file: file, line: line, column: column, problem: ConfigReader.collectionKeyProblem)
                }
                stack[stack.count - 1].children += 1
            }

            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1
                let column = Int(event.start_mark.column) + 1
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_SCALAR_EVENT:
                    try child(isCollection: false, line: line, column: column)
                    let size = Size(values: 1, bytes: event.data.scalar.length)
                    if let anchor = string(event.data.scalar.anchor) { anchors[anchor] = (size, false) }
                    try add(size)
                case YAML_ALIAS_EVENT:
                    // An undefined alias is the composer's error.
                    guard let anchor = string(event.data.alias.anchor), let target = anchors[anchor] else { return }
                    try child(isCollection: target.isCollection, line: line, column: column)
                    try add(target.size)
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    try child(isCollection: true, line: line, column: column)
                    let isMapping = event.type == YAML_MAPPING_START_EVENT
                    let anchor = string(isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor)
                    stack.append(Frame(isMapping: isMapping, anchor: anchor))
                    try add(Size(values: 1, bytes: 0))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let frame = stack.popLast() else { return }
                    // The frame's values are in `total` already; its parent takes them now.
                    if !stack.isEmpty {
                        stack[stack.count - 1].size.values += frame.size.values
                        stack[stack.count - 1].size.bytes += frame.size.bytes
                    }
                    if let anchor = frame.anchor { anchors[anchor] = (frame.size, true) }
                default:
                    continue
                }
            }
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    private static func tooLarge(_ file: String, _ limit: String) -> PlanError {
        .tooLarge(file: file, reason: "YAML aliases expand this document past \(limit) (an alias bomb?); nothing was read")
    }
}
