import Foundation
import ImagePrepOCI

extension RegistryClient {
    /// Every repository in the registry's catalog, following pagination.
    public func listRepositories(registry: String, pageSize: Int = 100) async throws -> [String] {
        struct Page: Decodable { var repositories: [String]? }
        let context = RegistryErrorContext(registry: registry, operation: "listing repositories of")
        return try await listPages(
            from: "/v2/_catalog?n=\(pageSize)", registry: registry, scope: "registry:catalog:*", context: context
        ) { (page: Page) in page.repositories }
    }

    /// Every tag of `reference`'s repository, following pagination.
    public func listTags(_ reference: Reference, pageSize: Int = 1000) async throws -> [String] {
        struct Page: Decodable { var tags: [String]? }
        let context = RegistryErrorContext(registry: reference.registry, repository: reference.repository,
                                           operation: "listing tags of")
        return try await listPages(
            from: "/v2/\(reference.repository)/tags/list?n=\(pageSize)", registry: reference.registry,
            scope: Self.pullScope(reference.repository), context: context
        ) { (page: Page) in page.tags }
    }

    /// The names of a paginated listing from `first` on, each page decoded as `Page` and its
    /// names taken by `names`, following `Link` headers within a ``ListingBudget``.
    private func listPages<Page: Decodable>(
        from first: String, registry: String, scope: String, context: RegistryErrorContext,
        names: (Page) -> [String]?
    ) async throws -> [String] {
        var listed: [String] = []
        var target: String? = first
        var budget = ListingBudget(context: context)
        while let next = target {
            try budget.next(next)
            var request = RegistryRequest(.get, next, registry: registry, context: context)
            request.scopes = [scope]
            let response = try await send(request)
            let page: Page = try decode(response.body, context: context)
            let pageNames = names(page) ?? []
            try budget.add(bytes: response.body.count, names: pageNames.count)
            listed += pageNames
            target = Self.nextPage(response.headers)
        }
        return listed
    }

    /// Bounds a paginated listing (`_catalog`, `tags/list`): a registry whose `Link` headers
    /// never end, lead back to a page already read, or whose pages add up to more names or
    /// bytes than any real repository has is an error rather than an endless loop or a run
    /// that grows without end. Each page is itself capped at the request's 16 MiB.
    struct ListingBudget {
        static let maxPages = 10_000
        static let maxNames = 100_000
        static let maxBytes = 32 * 1024 * 1024
        let context: RegistryErrorContext
        private var seen: Set<String> = []
        private var names = 0
        private var bytes = 0

        init(context: RegistryErrorContext) {
            self.context = context
        }

        mutating func next(_ target: String) throws {
            guard seen.insert(target).inserted else {
                throw RegistryError.invalidResponse(context, reason: "the pagination links lead back to '\(target)'")
            }
            guard seen.count <= Self.maxPages else {
                throw RegistryError.invalidResponse(context, reason: "the listing has more than \(Self.maxPages) pages")
            }
        }

        /// Counts a page read; throws once the listing holds too many names or bytes.
        mutating func add(bytes pageBytes: Int, names pageNames: Int) throws {
            bytes += pageBytes
            names += pageNames
            guard bytes <= Self.maxBytes else {
                throw RegistryError.invalidResponse(context, reason: "the listing is more than \(Self.maxBytes) bytes (32 MiB)")
            }
            guard names <= Self.maxNames else {
                throw RegistryError.invalidResponse(context, reason: "the listing has more than \(Self.maxNames) names")
            }
        }
    }

    /// The target of a `Link: <…>; rel="next"` header.
    static func nextPage(_ headers: HTTPHeaders) -> String? {
        for value in headers.values("Link") {
            for link in value.split(separator: ",") where link.contains("rel=\"next\"") || link.contains("rel=next") {
                guard let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"), open < close else {
                    continue
                }
                return String(link[link.index(after: open)..<close])
            }
        }
        return nil
    }
}
