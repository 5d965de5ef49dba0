import Foundation

/// An image config or manifest edited without losing anything: every field, known to this
/// tool or not, is kept as it was read, and the document is written back in one canonical
/// encoding (sorted keys, slashes unescaped). The one place configs and manifests are edited.
public struct ImageDocument: Sendable, Equatable {
    /// A JSON value, exactly as read (integers stay integers).
    public enum Value: Sendable, Equatable, Codable {
        case null
        case bool(Bool)
        case integer(Int64)
        case number(Double)
        case string(String)
        case array([Value])
        case object([String: Value])

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Int64.self) {
                self = .integer(value)
            } else if let value = try? container.decode(Double.self) {
                self = .number(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else if let value = try? container.decode([Value].self) {
                self = .array(value)
            } else {
                self = .object(try container.decode([String: Value].self))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .null: try container.encodeNil()
            case .bool(let value): try container.encode(value)
            case .integer(let value): try container.encode(value)
            case .number(let value): try container.encode(value)
            case .string(let value): try container.encode(value)
            case .array(let value): try container.encode(value)
            case .object(let value): try container.encode(value)
            }
        }

        public var string: String? {
            if case .string(let value) = self { return value }
            return nil
        }

        public var strings: [String]? {
            guard case .array(let values) = self else { return nil }
            let strings = values.compactMap(\.string)
            return strings.count == values.count ? strings : nil
        }

        public var object: [String: Value]? {
            if case .object(let value) = self { return value }
            return nil
        }

        public static func strings(_ values: [String]) -> Value { .array(values.map(Value.string)) }
    }

    /// The document is not a JSON object.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var what: String
        public var reason: String

        public var description: String { "\(what) is not a JSON object: \(reason)" }
    }

    public var fields: [String: Value]

    public init(fields: [String: Value] = [:]) {
        self.fields = fields
    }

    /// Reads a document; `what` names it in the error ("the image config").
    public init(_ data: Data, what: String) throws(Invalid) {
        do {
            guard case .object(let fields) = try JSONDecoder().decode(Value.self, from: data) else {
                throw Invalid(what: what, reason: "another JSON value")
            }
            self.fields = fields
        } catch let error as Invalid {
            throw error
        } catch {
            throw Invalid(what: what, reason: "unreadable JSON")
        }
    }

    public subscript(key: String) -> Value? {
        get { fields[key] }
        set { fields[key] = newValue }
    }

    /// The canonical bytes: sorted keys, slashes unescaped.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a tree of plain values cannot fail.
        return (try? encoder.encode(Value.object(fields))) ?? Data("{}".utf8)
    }

    public var digest: Digest { Digest(of: encoded()) }

    // MARK: Image config

    /// A field of the container settings (`config.User`, `config.Labels`, ...); nil removes it.
    public subscript(setting key: String) -> Value? {
        get { fields["config"]?.object?[key] }
        set {
            var settings = fields["config"]?.object ?? [:]
            settings[key] = newValue
            fields["config"] = .object(settings)
        }
    }

    /// The image's labels.
    public var labels: [String: String] {
        get { (self[setting: "Labels"]?.object ?? [:]).compactMapValues(\.string) }
        set { self[setting: "Labels"] = newValue.isEmpty ? nil : .object(newValue.mapValues(Value.string)) }
    }

    /// Sets one label, keeping the others.
    public mutating func setLabel(_ key: String, _ value: String) {
        var settings = self[setting: "Labels"]?.object ?? [:]
        settings[key] = .string(value)
        self[setting: "Labels"] = .object(settings)
    }

    /// The creation time as written (RFC 3339), if any.
    public var created: String? { fields["created"]?.string }

    /// Records a new top layer: its diff_id joins `rootfs`, and, when the image keeps a history,
    /// an entry describes it (`empty_layer` without a diff_id: a change of config only).
    public mutating func appendLayer(diffID: Digest?, created: String, createdBy: String, comment: String) {
        if let diffID {
            var rootfs = fields["rootfs"]?.object ?? ["type": .string("layers")]
            var ids: [Value] = []
            if case .array(let existing)? = rootfs["diff_ids"] { ids = existing }
            rootfs["diff_ids"] = .array(ids + [.string(diffID.description)])
            fields["rootfs"] = .object(rootfs)
        }
        appendHistory(diffID: diffID, created: created, createdBy: createdBy, comment: comment)
    }

    private mutating func appendHistory(diffID: Digest?, created: String, createdBy: String, comment: String) {
        guard case .array(let history)? = fields["history"] else { return }
        var entry: [String: Value] = ["created": .string(created), "created_by": .string(createdBy), "comment": .string(comment)]
        if diffID == nil { entry["empty_layer"] = .bool(true) }
        fields["history"] = .array(history + [.object(entry)])
    }

    // MARK: Manifest

    private static func json(_ descriptor: Descriptor) -> Value {
        .object([
            "mediaType": .string(descriptor.mediaType.rawValue), "digest": .string(descriptor.digest.description),
            "size": .integer(descriptor.size),
        ])
    }

    /// Points the manifest at another config blob.
    public mutating func setConfig(_ descriptor: Descriptor) {
        fields["config"] = Self.json(descriptor)
    }

    /// Adds a layer on top of the manifest's layers.
    public mutating func appendLayer(_ descriptor: Descriptor) {
        guard case .array(let layers)? = fields["layers"] else {
            fields["layers"] = .array([Self.json(descriptor)])
            return
        }
        fields["layers"] = .array(layers + [Self.json(descriptor)])
    }

    /// Replaces the digest and size of the layer at `position`, keeping its other fields (its
    /// media type, annotations). Returns false when there is no such layer.
    @discardableResult
    public mutating func setLayer(at position: Int, digest: Digest, size: Int64) -> Bool {
        guard case .array(var layers)? = fields["layers"], layers.indices.contains(position),
              var layer = layers[position].object
        else { return false }
        layer["digest"] = .string(digest.description)
        layer["size"] = .integer(size)
        layers[position] = .object(layer)
        fields["layers"] = .array(layers)
        return true
    }
}
