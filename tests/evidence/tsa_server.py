"""A local RFC 3161 time-stamping authority for the tests: a CA and a TSA certificate made with OpenSSL,
and `openssl ts -reply` behind a small real HTTP server on 127.0.0.1."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

EXT = """[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_tsa]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

TS_CNF = """[tsa]
default_tsa = tsa1
[tsa1]
dir = {d}
serial = {d}/serial
crypto_device = builtin
signer_cert = {d}/tsa.pem
certs = {d}/ca.pem
signer_key = {d}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _ssl(*args: str, cwd: Path) -> None:
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {r.stderr}")


def make_ca(d: Path, name: str) -> Path:
    """A self-signed CA (EC P-256) in d/ca.pem + d/ca.key."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "ext.cnf").write_text(EXT)
    _ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
         "-out", "ca.pem", "-days", "3650", "-config", "ext.cnf", "-extensions", "v3_ca", "-subj", f"/CN={name}", cwd=d)
    return d / "ca.pem"


def make_tsa(d: Path, rsa: bool = False) -> None:
    """A TSA certificate issued by d/ca.pem (extendedKeyUsage critical timeStamping)."""
    key = ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    _ssl("req", "-new", *key, "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=bouclier test TSA", cwd=d)
    _ssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "tsa.pem",
         "-days", "3650", "-extfile", "ext.cnf", "-extensions", "v3_tsa", cwd=d)
    (d / "serial").write_text("01\n")
    (d / "ts.cnf").write_text(TS_CNF.format(d=d))


class LocalTSA:
    def __init__(self, root: Path, rsa: bool = False):
        self.dir = root
        self.ca_pem = make_ca(root, "bouclier test root CA")
        make_tsa(root, rsa=rsa)
        self.requests = 0
        self.fail_next: int | None = None  # HTTP status to answer once (tests of TSA failures)
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(n, 65536))
                tsa.requests += 1
                if tsa.fail_next:
                    code, tsa.fail_next = tsa.fail_next, None
                    self.send_response(code)
                    self.end_headers()
                    return
                with tempfile.TemporaryDirectory(dir=tsa.dir) as t:
                    q, r = Path(t) / "q.tsq", Path(t) / "r.tsr"
                    q.write_bytes(body)
                    p = subprocess.run(["openssl", "ts", "-reply", "-config", str(tsa.dir / "ts.cnf"), "-queryfile",
                                        str(q), "-out", str(r)], capture_output=True, timeout=60)
                    out = r.read_bytes() if p.returncode == 0 and r.exists() else b""
                if not out:
                    self.send_response(500)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsr"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
