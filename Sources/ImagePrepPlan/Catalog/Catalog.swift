/// A built-in image catalog: every image a deployment may need, with the
/// heat parameters it fills and the services it serves.
public struct Catalog: Sendable {
    public let name: String
    /// The upstream template this catalog was derived from.
    public let upstreamTemplate: String
    public let defaultTagFromLabel: String?
    /// The `set` values an entry starts from.
    public let defaults: [String: TemplateValue]
    public let images: [CatalogImage]

    public static let all: [Catalog] = [.stein, .master]

    public static func named(_ name: String) -> Catalog? {
        all.first { $0.name == name }
    }

    init(
        name: String, upstreamTemplate: String, defaultTagFromLabel: String?,
        defaults: [String: TemplateValue], images: [CatalogImage]
    ) {
        self.name = name
        self.upstreamTemplate = upstreamTemplate
        self.defaultTagFromLabel = defaultTagFromLabel
        self.defaults = defaults
        self.images = images
    }

    /// The catalog's images for these template variables, in catalog order.
    public func entries(_ context: TemplateContext) -> [CatalogEntry] {
        images.compactMap { image in
            guard image.when.holds(in: context) else { return nil }
            return CatalogEntry(
                imageName: image.render(context),
                source: image.source,
                params: image.params.filter { $0.when.holds(in: context) }.map(\.name),
                services: image.services.filter { $0.when.holds(in: context) }.map(\.name)
            )
        }
    }
}

/// One image of a catalog after rendering.
public struct CatalogEntry: Sendable, Equatable, Codable {
    public var imageName: String
    public var source: String?
    public var params: [String]
    public var services: [String]

    public init(imageName: String, source: String?, params: [String], services: [String]) {
        self.imageName = imageName
        self.source = source
        self.params = params
        self.services = services
    }
}

public struct CatalogImage: Sendable {
    /// The image reference with `{variable}` placeholders.
    public let pattern: String
    public let source: String?
    public let params: [CatalogItem]
    public let services: [CatalogItem]
    public let when: CatalogCondition

    init(
        pattern: String, source: String? = nil, params: [CatalogItem], services: [CatalogItem],
        when: CatalogCondition = .always
    ) {
        self.pattern = pattern
        self.source = source
        self.params = params
        self.services = services
        self.when = when
    }

    func render(_ context: TemplateContext) -> String {
        var result = ""
        var rest = Substring(pattern)
        while let open = rest.firstIndex(of: "{") {
            result += rest[..<open]
            let afterOpen = rest.index(after: open)
            guard let close = rest[afterOpen...].firstIndex(of: "}") else { break }
            result += (context[String(rest[afterOpen..<close])] ?? .undefined).rendered
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }
}

/// A parameter or service name, present only when its condition holds.
public struct CatalogItem: Sendable, ExpressibleByStringLiteral {
    public let name: String
    public let when: CatalogCondition

    public init(stringLiteral name: String) {
        self.name = name
        self.when = .always
    }

    init(name: String, when: CatalogCondition) {
        self.name = name
        self.when = when
    }

    static func service(_ name: String, when: CatalogCondition) -> CatalogItem {
        CatalogItem(name: name, when: when)
    }

    static func param(_ name: String, when: CatalogCondition) -> CatalogItem {
        CatalogItem(name: name, when: when)
    }
}

public indirect enum CatalogCondition: Sendable {
    case always
    case neutronDriverIs(String)
    case neutronDriverIsNoneOf([String])
    /// `ceph_images | default(true)`: on unless set false.
    case cephImages
    case all([CatalogCondition])

    func holds(in context: TemplateContext) -> Bool {
        switch self {
        case .always:
            return true
        case .neutronDriverIs(let driver):
            return context["neutron_driver"] == .string(driver)
        case .neutronDriverIsNoneOf(let drivers):
            return !drivers.contains { context["neutron_driver"] == .string($0) }
        case .cephImages:
            let value = context["ceph_images"] ?? .undefined
            return value == .undefined || value.isTruthy
        case .all(let conditions):
            return conditions.allSatisfy { $0.holds(in: context) }
        }
    }
}
