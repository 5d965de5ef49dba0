import Foundation

/// A fault-injecting HTTP proxy in front of a real registry, on 127.0.0.1: requests whose
/// `METHOD PATH` matches a rule get the rule's status (with `Retry-After` if given and a
/// registry-style JSON error body) for the rule's first `times` matches, or always with
/// `times` -1; everything else is forwarded with its Host header, so the registry's
/// `Location` URLs point back at the proxy. A rule may instead misbehave as no real registry
/// does on demand (`Rule.Action`). Every request is logged to `proxy.log` as
/// `METHOD PATH STATUS injected|forwarded|ACTION`, to `headers.log` with whether it
/// carried credentials and to `ranges.log` with its `Range` and `If-Range`; the body bytes it
/// writes to `bytes.log`; every TCP connection it accepts to `connections.log`.
public final class FaultProxy: @unchecked Sendable {
    public struct Rule: Codable, Sendable {
        /// What a matching request gets.
        public enum Action: String, Codable, Sendable {
            /// `status`, with `Retry-After` if given and a registry-style JSON error body.
            case status
            /// The upstream answer's headers and half its body, then nothing (the connection
            /// stays open until the proxy stops).
            case stall
            /// The upstream answer's headers and half its body, then a TCP reset.
            case reset
            /// `307` to `location` followed by the request's path and query.
            case redirect
            /// `200` with a body of `bytes` bytes (a JSON string that never ends).
            case oversize
            /// The upstream answer with its `Location` moved to the origin `location`.
            case relocate
            /// The upstream answer with a `Link` header whose next page is the same request.
            case loop
            /// Forwarded as is: a rule placed before another one with the same match lets its
            /// first `times` requests through (`times` of these, then a `retag`: a tag that moves
            /// after N requests).
            case forward
            /// A manifest request answered with the manifest of the tag `location` instead of the
            /// one asked for: the tag has moved.
            case retag
            /// `status` with `body` (as `contentType`, its sha256 as `Docker-Content-Digest`):
            /// a hostile document no real registry serves.
            case respond
            /// An endless tags list: pages of `count` distinct tags of `bytes` characters, each
            /// linking to a new page.
            case pages
            /// The upstream answer with its body sent `bytes` bytes per second: slow, never stalled.
            case trickle
            /// The upstream answer (the whole blob or the range asked for) with its body cut by a
            /// TCP reset at byte `bytes` of the blob, once every byte before it reached the client.
            case cut
            /// A source without ranges: `Range` and `If-Range` are dropped, the whole blob answered.
            case norange
            /// The blob changed behind its URL: its bytes flipped under the ETag `"changed"`; a
            /// request with `If-Range` gets the whole changed blob (200), as RFC 9110 has it.
            case changed
            /// The upstream answer (a range included) with every body byte flipped and its
            /// headers unchanged: other bytes than its ETag and digest say.
            case mutate
        }

        /// A Python regular expression searched in `METHOD PATH` (path with query).
        public var match: String
        public var status: Int
        public var times: Int
        public var retryAfter: Int?
        public var action: Action
        public var location: String?
        public var bytes: Int?
        public var body: String?
        public var contentType: String?
        public var count: Int?

        public init(match: String, status: Int, times: Int, retryAfter: Int? = nil) {
            self.match = match
            self.status = status
            self.times = times
            self.retryAfter = retryAfter
            action = .status
        }

        public init(match: String, action: Action, times: Int, location: String? = nil, bytes: Int? = nil) {
            self.match = match
            status = action == .redirect ? 307 : 200
            self.times = times
            self.action = action
            self.location = location
            self.bytes = bytes
        }

        /// A `.respond` rule: `status` with `body`, always or for the first `times` matches.
        public static func respond(
            _ match: String, status: Int = 200, body: String, contentType: String = "application/json", times: Int = -1
        ) -> Rule {
            var rule = Rule(match: match, action: .respond, times: times)
            rule.status = status
            rule.body = body
            rule.contentType = contentType
            return rule
        }

        /// A `.pages` rule: endless tag pages of `count` tags of `width` characters.
        public static func pages(_ match: String, count: Int, width: Int) -> Rule {
            var rule = Rule(match: match, action: .pages, times: -1, bytes: width)
            rule.count = count
            return rule
        }
    }

    private let service: PythonService
    /// `host:port` the proxy listens on.
    public let address: String

    /// A proxy for `upstream` listening on `host` (another loopback address such as
    /// 127.0.0.2 stands for another host).
    public init(upstream: String, host: String = "127.0.0.1") throws {
        service = try PythonService(name: "fault-proxy", script: "fault_proxy.py", arguments: [upstream, host])
        address = "\(host):\(service.port)"
    }

    /// Requests that arrived, as `METHOD PATH auth` or `METHOD PATH anonymous` (whether an
    /// `Authorization` header came with them).
    public func authorizationLog() -> [String] { service.lines(of: "headers.log") }

    /// Replaces the rules (and their counters).
    public func setRules(_ rules: [Rule]) throws {
        let data = try JSONEncoder().encode(rules)
        let temporary = service.directory.appendingPathComponent("rules.json.tmp")
        try data.write(to: temporary)
        // rename(2): the proxy sees either the old rules or the new ones, never half a file.
        guard rename(temporary.path, service.directory.appendingPathComponent("rules.json").path) == 0 else {
            throw NSError(domain: "FaultProxy", code: Int(errno))
        }
    }

    /// Logged requests, as `METHOD PATH STATUS injected|forwarded`.
    public func requests() -> [String] { service.lines(of: "proxy.log") }

    /// Body bytes the proxy wrote to clients for requests whose `METHOD PATH` starts with
    /// `prefix`, since the proxy started.
    public func bytesSent(_ prefix: String) -> Int {
        service.lines(of: "bytes.log").filter { $0.hasPrefix(prefix) }
            .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
    }

    /// Requests that arrived, as `METHOD PATH Range=VALUE If-Range=VALUE` (`-` when absent).
    public func rangeLog() -> [String] { service.lines(of: "ranges.log") }

    /// TCP connections the proxy accepted so far, as the client's `host:port`.
    public func connections() -> [String] { service.lines(of: "connections.log") }

    public func stop() { service.stop() }
}
