import base64, hashlib, http.server, json, os, subprocess, sys, threading, time, urllib.parse, uuid

port_file, user, password, issuer, service, lifetime = sys.argv[1:7]
lifetime = int(lifetime)
lock = threading.Lock()

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

# libtrust's key ID, which docker-registry matches against the keys of its rootcertbundle:
# base32 of the first 240 bits of the SHA-256 of the DER public key, in groups of four.
spki = subprocess.run(["openssl", "pkey", "-in", "token.key", "-pubout", "-outform", "DER"],
                      check=True, capture_output=True).stdout
encoded = base64.b32encode(hashlib.sha256(spki).digest()[:30]).decode().rstrip("=")
key_id = ":".join(encoded[i:i + 4] for i in range(0, len(encoded), 4))

def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "kid": key_id}
    signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", "token.key"], input=signing_input,
                               check=True, capture_output=True).stdout
    return signing_input.decode() + "." + b64url(signature)

def access(scopes):
    granted = []
    for scope in scopes:
        parts = scope.split(":")
        if len(parts) < 3:
            continue
        granted.append({"type": parts[0], "name": ":".join(parts[1:-1]), "actions": parts[-1].split(",")})
    return granted

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, who, scopes):
        # Logged before answering, so a client that has its answer finds the line.
        with lock:
            with open("hits.log", "a") as log:
                log.write("%s %d %s\n" % (who, status, " ".join(scopes) or "-"))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        scopes = query.get("scope", [])
        if url.path != "/token" or query.get("service") != [service]:
            return self.answer(400, {"details": "unknown service or path"}, "-", scopes)
        authorization = self.headers.get("Authorization", "")
        who, grant = "-", []
        if authorization.startswith("Basic "):
            name, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            if name != user or secret != password:
                return self.answer(401, {"details": "invalid username or password"}, name, scopes)
            who, grant = name, access(scopes)
        now = int(time.time())
        claims = {"iss": issuer, "sub": "" if who == "-" else who, "aud": service, "exp": now + lifetime,
                  "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()), "access": grant}
        token = sign(claims)
        self.answer(200, {"token": token, "access_token": token, "expires_in": lifetime}, who, scopes)

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
