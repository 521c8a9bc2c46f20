"""Every WARC the archiver writes passes ``warcio check`` with the tools VERIFY.md names,
whatever Content-Encoding the server used (gzip, deflate, br, zstd, none); the digests
are over the bytes as received, so one changed byte of a body fails, decoded or not.

The finding: a response sent with ``Content-Encoding: br`` made ``warcio check`` (1.8.1)
stop with "'brotli.Decompressor' object has no attribute 'unused_data'" wherever Google's
``brotli`` package provides the ``brotli`` module, as in the project's own virtualenv.
VERIFY.md now pins warcio 1.8.1 with brotlipy 0.7.0 (whose ``brotli`` module warcio can
use), and these tests run exactly those, from .venv-tools."""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from archiver.app import Archive
from archiver.capture.warc import WarcWriter, dechunk, verify_warc
from archiver.config import Settings
from archiver.integrity._verify_doc import VERIFY_TOOLS, install_command, verify_md
from archiver.models import Snapshot
from tests.conftest import REPO, FixedClock
from tests.simweb import SimulatedWeb
from tests.simweb.behaviours import Response
from tests.simweb.fixtures import simweb  # noqa: F401
from tests.support.verify_tools import constraint_pins, tools_python, warcio_check
from tests.unit.capture.conftest import SequentialIds
from tests.unit.capture.warcbytes import members

CODINGS = ["gzip", "deflate", "br", "zstd", "none"]
# Bodies warcio 1.8.1 decodes when it reads them (br: with brotlipy); the others it
# reads as they are, and checks all the same.
DECODED = {"gzip", "deflate", "br"}

# A page of text that does not compress to nothing: bigger than warcio's 16 KiB read
# buffer once compressed, so its decoders see many blocks.
PLAIN = "".join(
    f"<p>{i}. Свидетельство: {i * 7919 % 10007} задержанных в Алматы, "
    f"{(i * 104729) % 65521:x} — протокол {i * i % 9973}.</p>\n"
    for i in range(6000)
).encode()


def zstd_frame(data: bytes) -> bytes:
    """A valid zstd frame (RFC 8878) of raw blocks: no zstd library in the project."""
    frame = bytearray(struct.pack("<IB", 0xFD2FB528, 0xA0))  # 4-byte size, one segment
    frame += struct.pack("<I", len(data))
    pieces = [data[i : i + (1 << 17)] for i in range(0, len(data), 1 << 17)] or [b""]
    for n, piece in enumerate(pieces):
        last = n == len(pieces) - 1
        frame += ((len(piece) << 3) | int(last)).to_bytes(3, "little")  # block type 0: raw
        frame += piece
    return bytes(frame)


def encode(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.compress(data, mtime=0)
    if coding == "deflate":
        return zlib.compress(data)  # zlib-wrapped deflate, as RFC 9110 says
    if coding == "br":
        out: bytes = brotli.compress(data)
        return out
    if coding == "zstd":
        return zstd_frame(data)
    return data


def head(coding: str, framing: str) -> bytes:
    fields = ["HTTP/1.1 200 OK", "Content-Type: text/html; charset=utf-8"]
    if coding != "none":
        fields.append(f"Content-Encoding: {coding}")
    fields.append(framing)
    return ("\r\n".join(fields) + "\r\n\r\n").encode()


def chunked(data: bytes, size: int = 4000) -> list[bytes]:
    """``data`` as a server sends it chunked, cut into reads at other boundaries."""
    wire = b"".join(
        f"{len(data[i : i + size]):x}\r\n".encode() + data[i : i + size] + b"\r\n"
        for i in range(0, len(data), size)
    )
    wire += b"0\r\n\r\n"
    return [wire[i : i + 1500] for i in range(0, len(wire), 1500)]


def write_warc(path: Path, coding: str, body: bytes, clock: FixedClock) -> None:
    """warcinfo, then two exchanges with the same body: sent with Content-Length, and
    sent chunked (the writer keeps the content coding and removes the transfer coding)."""
    with path.open("wb") as out:
        writer = WarcWriter(out, clock=clock, id_factory=SequentialIds())
        writer.write_warcinfo(operator="test")
        for n, framing in enumerate([f"Content-Length: {len(body)}", "Transfer-Encoding: chunked"]):
            url = f"https://codings.example/{coding}/{n}"
            data = body if n == 0 else dechunk(chunked(body))
            response = writer.write_response(url, head(coding, framing), data)
            writer.write_request(
                url,
                f"GET /{coding}/{n} HTTP/1.1\r\nHost: codings.example\r\n"
                "Accept-Encoding: gzip, deflate, br, zstd\r\n\r\n".encode(),
                concurrent_to=response.record_id,
            )


def change_one_body_byte(path: Path, out: Path) -> None:
    """A copy of the WARC with one byte in the middle of the first response's body
    changed (its digests kept): what tampering after the capture would leave."""
    rebuilt, changed = b"", False
    for member in members(path.read_bytes()):
        header, block = member.split(b"\r\n\r\n", 1)
        if b"WARC-Type: response" in header and not changed:
            body_starts = block.index(b"\r\n\r\n") + 4
            at = body_starts + (len(block) - 4 - body_starts) // 2
            block = block[:at] + bytes([block[at] ^ 0x01]) + block[at + 1 :]
            changed = True
        rebuilt += gzip.compress(header + b"\r\n\r\n" + block, mtime=0)
    assert changed
    out.write_bytes(rebuilt)


_CONTENT = """
import hashlib, sys, json
from warcio.archiveiterator import ArchiveIterator
seen = []
with open(sys.argv[1], "rb") as fh:
    for record in ArchiveIterator(fh):
        if record.rec_type == "response":
            seen.append(hashlib.sha256(record.content_stream().read()).hexdigest())
print(json.dumps(seen))
"""


def passes(check: subprocess.CompletedProcess[str], records: int) -> None:
    out = check.stdout + check.stderr
    assert check.returncode == 0, out
    # One "digest pass" per record: warcio recomputed every sha256 digest we wrote.
    assert check.stdout.count("digest pass") == records, out
    assert "failed" not in out and "no digest" not in out and "Traceback" not in out


# -- the tools ---------------------------------------------------------------------------


def test_the_tools_are_the_versions_verify_md_names() -> None:
    manifest = {
        "snapshot_id": "s",
        "source": {"url": "https://example.org/"},
        "capture": {"started_at": "t0", "finished_at": "t1"},
        "warc": {"sha256": "0" * 64, "size": 1},
    }
    text = verify_md(manifest, [], "x.warc.gz", "f" * 64).decode()
    pins = " ".join(f"{name}=={version}" for name, version in VERIFY_TOOLS)
    assert install_command().endswith(f'/bin/pip" install {pins}') and install_command() in text
    assert dict(VERIFY_TOOLS) == {"warcio": "1.8.1", "brotlipy": "0.7.0", "wacz": "0.6.0"}
    constraints = constraint_pins()
    assert {name: constraints.get(name) for name, _ in VERIFY_TOOLS} == dict(VERIFY_TOOLS)
    # The project's virtualenv has the same warcio (beside Google's brotli: see below).
    assert constraint_pins(REPO / "constraints.txt")["warcio"] == dict(VERIFY_TOOLS)["warcio"]
    # .venv-tools has exactly these, and its ``brotli`` module is brotlipy's: Google's
    # brotli package (which warcio 1.8.1 cannot use) is not installed there.
    found = tools_python(
        "import importlib.metadata as m, json, sys, brotli\n"
        "names = [n for n in sys.argv[1:] if n != 'brotli']\n"
        "versions = {n: m.version(n) for n in names}\n"
        "try:\n    versions['brotli'] = m.version('brotli')\n"
        "except m.PackageNotFoundError:\n    versions['brotli'] = None\n"
        "files = [str(f) for f in m.distribution('brotlipy').files]\n"
        "versions['brotli module from brotlipy'] = 'brotli/__init__.py' in files\n"
        "print(json.dumps(versions))",
        *(name for name, _ in VERIFY_TOOLS),
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == {
        **dict(VERIFY_TOOLS),
        "brotli": None,
        "brotli module from brotlipy": True,
    }


def test_the_warning_in_verify_md_is_true(tmp_path: Path, clock: FixedClock) -> None:
    """Google's brotli beside warcio 1.8.1 (the project's own virtualenv has both) cannot
    check a br response: the failure VERIFY.md tells the reader to avoid. If this starts
    passing, warcio or brotli fixed it: update VERIFY.md's tools section."""
    path = tmp_path / "br.warc.gz"
    write_warc(path, "br", encode("br", PLAIN), clock)
    check = subprocess.run(
        [sys.executable, "-c", "from warcio.cli import main; main()", "check", "-v", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode != 0
    assert "'brotli.Decompressor' object has no attribute 'unused_data'" in check.stderr


# -- one WARC per content coding, written by the archiver's writer ----------------------


@pytest.mark.parametrize("coding", CODINGS)
def test_warcio_check_passes_for_every_content_coding(
    coding: str, tmp_path: Path, clock: FixedClock
) -> None:
    body = encode(coding, PLAIN)
    assert coding == "none" or (len(body) > 16384 and body != PLAIN)
    path = tmp_path / f"{coding}.warc.gz"
    write_warc(path, coding, body, clock)

    passes(warcio_check(path), records=5)
    assert verify_warc(path).ok  # and `archiver verify`, which never decodes
    # Also for a checker who left brotlipy out, as VERIFY.md allows.
    passes(warcio_check(path, without_brotli=True), records=5)

    # What warcio reads as the content: decoded for gzip, deflate and br, the bytes as
    # sent for zstd (warcio 1.8.1 has no zstd decoder) and for no coding.
    read = tools_python(_CONTENT, str(path))
    assert read.returncode == 0, read.stderr
    expected = PLAIN if coding in DECODED else body
    assert json.loads(read.stdout) == [hashlib.sha256(expected).hexdigest()] * 2


@pytest.mark.parametrize("coding", CODINGS)
def test_one_changed_body_byte_fails_warcio_check(
    coding: str, tmp_path: Path, clock: FixedClock
) -> None:
    """The digests are over the encoded bytes: a change fails the check whether or not
    warcio decodes the coding (zstd: it does not, and still catches it)."""
    path = tmp_path / f"{coding}.warc.gz"
    write_warc(path, coding, encode(coding, PLAIN), clock)
    changed = tmp_path / f"{coding}-changed.warc.gz"
    change_one_body_byte(path, changed)

    for check in (warcio_check(changed), warcio_check(changed, without_brotli=True)):
        assert check.returncode == 1, check.stdout + check.stderr
        assert "payload digest failed" in check.stdout and "block digest failed" in check.stdout
        assert check.stdout.count("digest pass") == 4  # the other records
        assert "Traceback" not in check.stderr
    assert not verify_warc(changed).ok


# -- captured through the simulated web ------------------------------------------------


def test_captured_responses_of_every_coding_pass_warcio_check(
    simweb: SimulatedWeb,  # noqa: F811
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    served: dict[str, bytes] = {}
    for n, coding in enumerate(CODINGS):
        url = f"https://codings.example/{coding}"
        served[url] = encode(coding, PLAIN)
        headers = {"Content-Encoding": coding} if coding != "none" else None
        framing = "chunked" if n % 2 else "length"
        simweb.page(url, Response(200, served[url], headers, framing=framing))  # type: ignore[arg-type]
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        capture__modes='{default = ["http"]}',
    )
    report = tmp_path / "digest.txt"
    report.write_text(
        "Digest\n\n"
        + "".join(f"Claim {n}[{n}].\n" for n in range(1, 6))
        + "\n"
        + "".join(f"[{n}] {url}\n" for n, url in enumerate(served, 1)),
        encoding="utf-8",
    )
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        outcomes = archive.capture()
        assert sorted(o.http_status or 0 for o in outcomes) == [200] * 5, outcomes
        with archive.db.session() as session:
            paths = [
                settings.storage.root / s.warc_path
                for s in session.scalars(select(Snapshot).order_by(Snapshot.id))
            ]
    assert len(paths) == 5
    bodies: dict[str, bytes] = {}
    for path in paths:
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                url = record.rec_headers.get_header("WARC-Target-URI")
                if record.rec_type == "response" and url in served:
                    bodies[url] = record.raw_stream.read()
    assert bodies == served  # every body as the server sent it, still encoded

    check = warcio_check(*paths)
    out = check.stdout + check.stderr
    assert check.returncode == 0, out
    assert "digest pass" in check.stdout and "failed" not in out and "Traceback" not in out
