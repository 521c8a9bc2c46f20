"""A complete snapshot file, written once per test, as later stages will write them."""

from __future__ import annotations

import gzip
import os
import struct
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from archiver.capture.warc import (
    SealedWarc,
    WrittenRecord,
    artefact_uri,
    dechunk,
    open_snapshot,
    snapshot_relpath,
)
from tests.conftest import FixedClock
from tests.support import verify_tools

# warcio as VERIFY.md pins it (with brotlipy), not the project venv's: tests/support/verify_tools.py.
WARCIO = verify_tools.WARCIO
URL = "https://rus.azattyq.org/a/1.html"
GZ_URL = "https://rus.azattyq.org/a/1.js"
HTML = "<html><body><p>Свидетельство: митинг в Алматы, 12 марта.</p></body></html>".encode()
SCRIPT = b"console.log('x');\n" * 200


def chunked(data: bytes, size: int) -> bytes:
    """``data`` with HTTP/1.1 chunked framing, as a server would send it."""
    out = b""
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


class SequentialIds:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> uuid.UUID:
        self.count += 1
        return uuid.UUID(int=self.count)


@dataclass
class Snapshot:
    sealed: SealedWarc
    records: list[WrittenRecord]
    raw_chunked: bytes
    gzip_body: bytes
    png: bytes
    video: Path


@pytest.fixture
def snapshot(tmp_path: Path, clock: FixedClock) -> Snapshot:
    """warcinfo, two request/response pairs (one sent chunked, one gzip-encoded),
    metadata, a PNG screenshot and a 5 MB video streamed from disk."""
    video = tmp_path / "video.mp4"
    video.write_bytes(os.urandom(5 << 20))
    raw = chunked(HTML, 17)
    gz = gzip.compress(SCRIPT, mtime=0)
    png = tiny_png()
    path = tmp_path / "storage" / snapshot_relpath(7, uuid.UUID(int=99), clock())
    with open_snapshot(path, clock=clock, id_factory=SequentialIds()) as w:
        written = [
            w.write_warcinfo(
                operator="Monitor <ops@example.org>",
                settings={
                    "network": {"proxy": "socks5://user:secret@127.0.0.1:1080"},
                    "capture": {"timeout": 30},
                },
            )
        ]
        clock.advance(microseconds=123456)
        response = w.write_response(
            URL,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n",
            dechunk([raw[i : i + 10] for i in range(0, len(raw), 10)]),
            ip_address="203.0.113.5",
        )
        request = w.write_request(
            URL,
            b"GET /a/1.html HTTP/1.1\r\nHost: rus.azattyq.org\r\n\r\n",
            concurrent_to=response.record_id,
        )
        gz_response = w.write_response(
            GZ_URL,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Encoding: gzip\r\n"
            + f"Content-Length: {len(gz)}\r\n\r\n".encode(),
            gz,
            ip_address="203.0.113.5",
        )
        gz_request = w.write_request(
            GZ_URL,
            b"GET /a/1.js HTTP/1.1\r\nHost: rus.azattyq.org\r\nAccept-Encoding: gzip\r\n\r\n",
            concurrent_to=gz_response.record_id,
        )
        metadata = w.write_metadata(
            URL, {"redirects": [], "http_status": 200, "tls": None}, refers_to=response.record_id
        )
        shot = w.write_resource(
            artefact_uri("screenshot", URL), "image/png", png, concurrent_to=response.record_id
        )
        film = w.write_resource(artefact_uri("video", URL), "video/mp4", video)
        written += [response, request, gz_response, gz_request, metadata, shot, film]
    return Snapshot(w.sealed, written, raw, gz, png, video)
