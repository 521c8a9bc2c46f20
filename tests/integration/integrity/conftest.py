"""A real RFC 3161 TSA on localhost: a throwaway CA, a time-stamping certificate, and
``openssl ts -reply`` run for every request by a tiny HTTP server in a thread."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

TSA_CNF = """\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
serial = {dir}/tsaserial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.5
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

EXT_CNF = """\
[ tsa_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def openssl(*args: str, cwd: Path, input: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["openssl", *args], cwd=cwd, input=input, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {done.stderr.decode()}")
    return done.stdout


@dataclass
class LocalTsa:
    dir: Path
    url: str
    requests: list[bytes] = field(default_factory=list)
    # "ok", "http500", "garbage", "wrong-digest"
    mode: str = "ok"

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def cert(self) -> Path:
        return self.dir / "tsa.pem"

    def reply(self, query: bytes) -> bytes:
        with tempfile.TemporaryDirectory(dir=self.dir) as work:
            q = Path(work) / "q.tsq"
            q.write_bytes(query)
            out = Path(work) / "r.tsr"
            openssl(
                "ts", "-reply", "-queryfile", str(q), "-config", str(self.dir / "tsa.cnf"),
                "-inkey", str(self.dir / "tsa.key"), "-signer", str(self.cert),
                "-out", str(out), cwd=self.dir,
            )  # fmt: skip
            return out.read_bytes()


def make_tsa_pki(directory: Path, key_type: str = "rsa") -> None:
    """ca.key/ca.pem and tsa.key/tsa.pem (EKU critical timeStamping) plus tsa.cnf."""
    keyopt = (
        ["-newkey", "rsa:2048"]
        if key_type == "rsa"
        else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    )
    openssl(
        "req", "-x509", *keyopt, "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=Test TSA Root", cwd=directory,
    )  # fmt: skip
    openssl(
        "req", "-new", *keyopt, "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
        "-subj", "/CN=Test TSA", cwd=directory,
    )  # fmt: skip
    (directory / "ext.cnf").write_text(EXT_CNF)
    openssl(
        "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "tsa.pem", "-days", "2", "-extfile", "ext.cnf",
        "-extensions", "tsa_ext", cwd=directory,
    )  # fmt: skip
    (directory / "tsa.cnf").write_text(TSA_CNF.format(dir=directory))


@pytest.fixture(scope="session")
def tsa_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    directory = tmp_path_factory.mktemp("tsa")
    make_tsa_pki(directory)
    return directory


@contextmanager
def serve_tsa(tsa_pki: Path) -> Iterator[LocalTsa]:
    """Run a local TSA over ``tsa_pki`` until the block ends."""
    lock = threading.Lock()
    tsa = LocalTsa(dir=tsa_pki, url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            tsa.requests.append(body)
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self._send(415, b"", "text/plain")
            elif tsa.mode == "http500":
                self._send(500, b"busy", "text/plain")
            elif tsa.mode == "garbage":
                self._send(200, b"\x30\x03\x02\x01", "application/timestamp-reply")
            else:
                if tsa.mode == "wrong-digest":
                    # Answer a different question than the one asked.
                    at = body.index(b"\x04\x20") + 2  # the imprint's OCTET STRING
                    body = body[:at] + bytes(32) + body[at + 32 :]
                with lock:  # one openssl at a time: the serial file is shared
                    reply = tsa.reply(body)
                self._send(200, reply, "application/timestamp-reply")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # Polled every 50 ms: shutdown() waits for a poll, and the default 0.5 s was paid by
    # every test that stamps.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    tsa.url = f"http://127.0.0.1:{server.server_address[1]}/tsr"
    try:
        yield tsa
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def local_tsa(tsa_pki: Path) -> Iterator[LocalTsa]:
    with serve_tsa(tsa_pki) as tsa:
        yield tsa
