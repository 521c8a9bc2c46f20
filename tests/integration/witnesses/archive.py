"""A real Memento archive for the tests: pywb (from .venv-tools) serving a collection
built from corpus pages, reached as ``web.archive.org`` through the simulated web.

The collection is called ``web``, so pywb's own URLs are the Wayback Machine's:
``/web/timemap/link/<url>`` (a Memento TimeMap), ``/web/<14 digits>id_/<url>`` (the
raw copy, with ``Memento-Datetime``) and ``/web/cdx?url=...`` (pywb's CDX API, which
the simulated ``web.archive.org`` also answers at the Wayback path ``/cdx/search/cdx``).
"""

from __future__ import annotations

import io
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from warcio.statusandheaders import StatusAndHeaders  # type: ignore[import-untyped]
from warcio.warcwriter import WARCWriter  # type: ignore[import-untyped]

from tests.simweb import Response, SimulatedWeb
from tests.simweb.messages import Request

TOOLS = Path(__file__).resolve().parents[3] / ".venv-tools" / "bin"


@dataclass(frozen=True)
class Copy:
    """One page as the archive captured it."""

    url: str
    at: datetime
    body: bytes
    status: int = 200


def write_collection_warc(path: Path, copies: Sequence[Copy]) -> None:
    """A WARC as an archive's crawler would write it: each response at its original
    URL, dated when it was captured."""
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for copy in copies:
            reason = {200: "OK", 404: "Not Found"}.get(copy.status, "OK")
            head = StatusAndHeaders(
                f"{copy.status} {reason}",
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Length", str(len(copy.body))),
                ],
                protocol="HTTP/1.1",
            )
            record = writer.create_warc_record(
                copy.url,
                "response",
                payload=io.BytesIO(copy.body),
                http_headers=head,
                warc_headers_dict={"WARC-Date": copy.at.strftime("%Y-%m-%dT%H:%M:%SZ")},
            )
            writer.write_record(record)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_wayback(root: Path, collection: str) -> tuple[subprocess.Popen[bytes], str]:
    """``wayback`` serving the collections under ``root``, answering; its base URL. A
    port taken between choosing it and pywb binding it (other processes share this
    machine) makes pywb exit: another port is tried then."""
    for _ in range(5):
        port = _free_port()
        server = subprocess.Popen(
            [str(TOOLS / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while server.poll() is None:  # readiness, not timing: the first answer ends it
            try:
                httpx.get(f"{base}/{collection}/timemap/link/http://example.invalid/", timeout=5)
                return server, base
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    server.terminate()
                    server.wait(timeout=10)
                    raise
                time.sleep(0.1)
        server.wait(timeout=10)
    raise AssertionError("pywb did not start on any of 5 ports")


@contextmanager
def pywb_archive(root: Path, copies: Sequence[Copy]) -> Iterator[str]:
    """pywb serving ``copies`` as collection ``web``; yields its base URL."""
    if not (TOOLS / "wayback").exists():
        raise AssertionError("pywb is not installed in .venv-tools (./dev test installs it)")
    root.mkdir(parents=True, exist_ok=True)
    warc = root / "copies.warc.gz"
    write_collection_warc(warc, copies)
    subprocess.run(
        [str(TOOLS / "wb-manager"), "init", "web"], cwd=root, check=True, capture_output=True
    )
    subprocess.run(
        [str(TOOLS / "wb-manager"), "add", "web", str(warc)],
        cwd=root,
        check=True,
        capture_output=True,
    )
    (root / "config.yaml").write_text("enable_memento: true\n", encoding="utf-8")
    server, base = start_wayback(root, "web")
    try:
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def forward_to(base: str):  # type: ignore[no-untyped-def]
    """A simulated-web handler answering for web.archive.org from pywb at ``base``."""

    async def handler(request: Request) -> Response:
        parts = urlsplit(request.url)
        path = parts.path
        if path == "/cdx/search/cdx":
            path = "/web/cdx"
        target = base + path + (f"?{parts.query}" if parts.query else "")
        async with httpx.AsyncClient(follow_redirects=False, timeout=30) as client:
            answer = await client.get(target)
        wayback = "https://web.archive.org"
        headers = [
            (k, v.replace(base, wayback))
            for k, v in answer.headers.multi_items()
            if k.lower()
            not in ("content-length", "transfer-encoding", "content-encoding", "connection")
        ]
        body = answer.content
        if answer.headers.get("content-type", "").startswith("application/link-format"):
            body = body.replace(base.encode(), wayback.encode())
        return Response(answer.status_code, body, headers=headers, content_type=None)

    return handler


def serve_as_wayback(web: SimulatedWeb, base: str) -> None:
    web.override_host("web.archive.org", forward_to(base))
