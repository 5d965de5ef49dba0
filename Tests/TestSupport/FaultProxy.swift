import Foundation

/// A fault-injecting HTTP proxy in front of a real registry, on 127.0.0.1: requests whose
/// `METHOD PATH` matches a rule get the rule's status (with `Retry-After` if given and a
/// registry-style JSON error body) for the rule's first `times` matches, or always with
/// `times` -1; everything else is forwarded with its Host header, so the registry's
/// `Location` URLs point back at the proxy. Every request is logged to `proxy.log` as
/// `METHOD PATH STATUS injected|forwarded`.
public final class FaultProxy: @unchecked Sendable {
    public struct Rule: Codable, Sendable {
        /// A Python regular expression searched in `METHOD PATH` (path with query).
        public var match: String
        public var status: Int
        public var times: Int
        public var retryAfter: Int?

        public init(match: String, status: Int, times: Int, retryAfter: Int? = nil) {
            self.match = match
            self.status = status
            self.times = times
            self.retryAfter = retryAfter
        }
    }

    private let service: PythonService
    public var address: String { service.address }

    public init(upstream: String) throws {
        service = try PythonService(name: "fault-proxy", script: Self.script, arguments: [upstream])
    }

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

    public func stop() { service.stop() }

    static let script = #"""
        import http.client, http.server, json, os, re, sys, threading

        port_file, upstream = sys.argv[1:3]
        lock = threading.Lock()
        state = {"mtime": None, "rules": []}
        HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "proxy-authorization", "te",
               "trailer", "upgrade"}

        def rules():
            # Re-read rules.json whenever the test replaces it; counters start again.
            try:
                stat = os.stat("rules.json")
                mtime = (stat.st_ino, stat.st_mtime_ns)
            except FileNotFoundError:
                return []
            if mtime != state["mtime"]:
                with open("rules.json") as f:
                    state["rules"] = [dict(rule, used=0) for rule in json.load(f)]
                state["mtime"] = mtime
            return state["rules"]

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            upstream_connection = None

            def log_message(self, *args):
                pass

            def record(self, status, how):
                with lock:
                    with open("proxy.log", "a") as log:
                        log.write("%s %s %d %s\n" % (self.command, self.path, status, how))

            def read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return body
                        body += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def handle_any(self):
                body = self.read_body()
                line = "%s %s" % (self.command, self.path)
                with lock:
                    fault = None
                    for rule in rules():
                        if re.search(rule["match"], line) and (rule["times"] < 0 or rule["used"] < rule["times"]):
                            rule["used"] += 1
                            fault = rule
                            break
                if fault:
                    data = json.dumps({"errors": [{"code": "UNAVAILABLE",
                                                   "message": "injected fault %d" % fault["status"]}]}).encode()
                    self.send_response(fault["status"])
                    if fault.get("retryAfter") is not None:
                        self.send_header("Retry-After", str(fault["retryAfter"]))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.record(fault["status"], "injected")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                    return
                if self.upstream_connection is None:
                    self.upstream_connection = http.client.HTTPConnection(upstream, timeout=60)
                connection = self.upstream_connection
                connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in HOP and name.lower() != "content-length":
                        connection.putheader(name, value)
                if body or self.command in ("PUT", "POST", "PATCH"):
                    connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body)
                response = connection.getresponse()
                data = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() in HOP or name.lower() in ("content-length", "date", "server"):
                        continue
                    self.send_header(name, value)
                if self.command == "HEAD":
                    self.send_header("Content-Length", response.getheader("Content-Length", "0"))
                else:
                    self.send_header("Content-Length", str(len(data)))
                self.record(response.status, "forwarded")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        with open(port_file + ".tmp", "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.rename(port_file + ".tmp", port_file)
        server.serve_forever()
        """#
}
