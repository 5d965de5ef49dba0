import fcntl, hashlib, http.client, http.server, json, os, re, socket, struct, sys, termios, threading, time, urllib.parse

port_file, upstream, host = sys.argv[1:4]
lock = threading.Lock()
state = {"mtime": None, "rules": []}
FLIP = bytes(range(255, -1, -1))
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

    def setup(self):
        # One handler per TCP connection: log each accepted connection.
        super().setup()
        with lock:
            with open("connections.log", "a") as log:
                log.write("%s:%d\n" % self.client_address[:2])

    def record(self, status, how):
        with lock:
            with open("proxy.log", "a") as log:
                log.write("%s %s %d %s\n" % (self.command, self.path, status, how))

    def send_body(self, data):
        # Every body byte written to the client is counted in bytes.log (METHOD PATH COUNT).
        try:
            self.wfile.write(data)
            self.wfile.flush()
        finally:
            with lock:
                with open("bytes.log", "a") as log:
                    log.write("%s %s %d\n" % (self.command, self.path, len(data)))

    def drained(self, seconds=10):
        # Waits until the client's kernel has taken every byte written (nothing left in the
        # send queue), so a reset that follows loses none of them.
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            queued = struct.unpack("i", fcntl.ioctl(self.connection.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
            if queued == 0:
                return
            time.sleep(0.005)

    def reset_connection(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def forward_without_range(self, body):
        # The request as a source that does not serve ranges gets it: whole.
        saved = {name: self.headers[name] for name in ("Range", "If-Range") if name in self.headers}
        for name in saved:
            del self.headers[name]
        try:
            return self.forward(body)
        finally:
            for name, value in saved.items():
                self.headers[name] = value

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

    def forward(self, body):
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
        return response, response.read()

    def send_upstream_headers(self, response, length):
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() in HOP or name.lower() in ("content-length", "date", "server"):
                continue
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))

    def misbehave(self, fault, body):
        action = fault.get("action", "status")
        if action == "cut":
            # The upstream answer (whole, or the range asked for) cut by a TCP reset once the
            # blob's byte `bytes` is reached: the body stops at that offset of the blob, wherever
            # the answer started.
            response, data = self.forward(body)
            start = 0
            match = re.match(r"bytes (\d+)-", response.getheader("Content-Range", ""))
            if response.status == 206 and match:
                start = int(match.group(1))
            self.send_upstream_headers(response, len(data))
            self.record(response.status, "cut")
            self.end_headers()
            self.send_body(data[: max(0, fault["bytes"] - start)])
            self.drained()
            self.reset_connection()
            return True
        if action == "norange":
            # A source that does not serve ranges: Range and If-Range are dropped, the answer
            # is the whole blob.
            response, data = self.forward_without_range(body)
            self.send_upstream_headers(response, len(data))
            self.record(response.status, "norange")
            self.end_headers()
            if self.command != "HEAD":
                self.send_body(data)
            return True
        if action == "changed":
            # The blob changed behind its URL: other bytes under another ETag. An If-Range that
            # names the old ETag gets the whole new blob (200), as RFC 9110 has it; a Range
            # without If-Range gets the new bytes of the range.
            guarded = "If-Range" in self.headers
            response, data = self.forward_without_range(body) if guarded else self.forward(body)
            data = data.translate(FLIP)
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() in HOP or name.lower() in ("content-length", "date", "server", "etag"):
                    continue
                self.send_header(name, value)
            self.send_header("ETag", '"changed"')
            self.send_header("Content-Length", str(len(data)))
            self.record(response.status, "changed")
            self.end_headers()
            if self.command != "HEAD":
                self.send_body(data)
            return True
        if action == "mutate":
            # The upstream answer with every body byte flipped and its headers as they were: a
            # source serving other bytes than its ETag and digest say.
            response, data = self.forward(body)
            self.send_upstream_headers(response, len(data))
            self.record(response.status, "mutate")
            self.end_headers()
            if self.command != "HEAD":
                self.send_body(data.translate(FLIP))
            return True
        if action in ("stall", "reset"):
            response, data = self.forward(body)
            self.send_upstream_headers(response, len(data))
            self.record(response.status, action)
            self.end_headers()
            self.send_body(data[: len(data) // 2])
            if action == "stall":
                threading.Event().wait()
            self.reset_connection()
            return True
        if action in ("relocate", "loop"):
            response, data = self.forward(body)
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() in HOP or name.lower() in ("content-length", "date", "server"):
                    continue
                if name.lower() == "location" and action == "relocate":
                    parsed = urllib.parse.urlsplit(value)
                    value = fault["location"] + urllib.parse.urlunsplit(("", "", parsed.path, parsed.query, ""))
                self.send_header(name, value)
            if action == "loop":
                self.send_header("Link", '<%s>; rel="next"' % self.path)
            self.send_header("Content-Length", str(len(data)))
            self.record(response.status, action)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return True
        if action == "retag":
            asked = self.path
            self.path = re.sub(r"/manifests/[^/?]+", "/manifests/" + fault["location"], asked, count=1)
            try:
                response, data = self.forward(body)
            finally:
                self.path = asked
            length = response.getheader("Content-Length", "0") if self.command == "HEAD" else len(data)
            self.send_upstream_headers(response, length)
            self.record(response.status, "retag")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return True
        if action == "redirect":
            self.send_response(307)
            self.send_header("Location", fault["location"] + self.path)
            self.send_header("Content-Length", "0")
            self.record(307, "redirect")
            self.end_headers()
            return True
        if action == "respond":
            # Hostile bytes no real registry serves: the rule's body (text) as the answer.
            data = fault["body"].encode()
            self.send_response(fault["status"])
            self.send_header("Content-Type", fault.get("contentType") or "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Docker-Content-Digest", "sha256:" + hashlib.sha256(data).hexdigest())
            self.record(fault["status"], "respond")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return True
        if action == "pages":
            # An endless tags list: each page `count` distinct tags of `bytes` characters,
            # linking to a next page never seen before.
            path = urllib.parse.urlsplit(self.path).path
            page = int(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("page", ["0"])[0])
            width = fault.get("bytes") or 16
            tags = ["p%d-%d-" % (page, index) for index in range(fault["count"])]
            tags = [tag + "x" * max(0, width - len(tag)) for tag in tags]
            data = json.dumps({"name": path.split("/v2/", 1)[1].rsplit("/tags/", 1)[0], "tags": tags}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Link", '<%s?n=%d&page=%d>; rel="next"' % (path, fault["count"], page + 1))
            self.record(200, "pages")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return True
        if action == "trickle":
            # The upstream answer whole, its body `bytes` bytes per second: never a stall,
            # never done in reasonable time.
            response, data = self.forward(body)
            self.send_upstream_headers(response, len(data))
            self.record(response.status, "trickle")
            self.end_headers()
            if self.command == "HEAD":
                return True
            interval = 1.0 / fault["bytes"]
            try:
                for offset in range(len(data)):
                    self.wfile.write(data[offset:offset + 1])
                    self.wfile.flush()
                    threading.Event().wait(interval)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return True
        if action == "oversize":
            size = fault["bytes"]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.record(200, "oversize")
            self.end_headers()
            if self.command != "HEAD":
                chunk = b"[" + b"1," * 32767
                sent = 0
                try:
                    while sent < size:
                        piece = chunk[: size - sent]
                        self.wfile.write(piece)
                        sent += len(piece)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            return True
        return False

    def handle_any(self):
        body = self.read_body()
        line = "%s %s" % (self.command, self.path)
        with lock:
            with open("headers.log", "a") as log:
                log.write("%s %s %s\n" % (self.command, self.path,
                                          "auth" if self.headers.get("Authorization") else "anonymous"))
            with open("ranges.log", "a") as log:
                log.write("%s %s Range=%s If-Range=%s\n" % (self.command, self.path, self.headers.get("Range", "-"),
                                                            self.headers.get("If-Range", "-")))
        with lock:
            fault = None
            for rule in rules():
                if re.search(rule["match"], line) and (rule["times"] < 0 or rule["used"] < rule["times"]):
                    rule["used"] += 1
                    fault = rule
                    break
        if fault and fault.get("action") == "forward":
            fault = None
        if fault and self.misbehave(fault, body):
            return
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
        response, data = self.forward(body)
        length = response.getheader("Content-Length", "0") if self.command == "HEAD" else len(data)
        self.send_upstream_headers(response, length)
        self.record(response.status, "forwarded")
        self.end_headers()
        if self.command != "HEAD":
            self.send_body(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

server = http.server.ThreadingHTTPServer((host, 0), Handler)
server.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
