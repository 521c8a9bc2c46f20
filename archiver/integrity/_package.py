"""Names and small formats shared by the exporter and the package verifier."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

from archiver.integrity.custody import CustodyEntry, entry_bytes

SUMS = "SHA256SUMS"
SUMS_SIG = "SHA256SUMS.sig"
WACZ = "snapshot.wacz"
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig"
PUBLIC_KEY = "key/public.pem"
FINGERPRINT = "key/fingerprint.txt"
# Only when the manifest was signed by an older key than the one that exports.
MANIFEST_KEY = "key/manifest-public.pem"
MANIFEST_FINGERPRINT = "key/manifest-fingerprint.txt"
TIMESTAMPS = "timestamps/timestamps.json"
CHAIN = "custody/chain.jsonl"
ENTRIES_DIR = "custody/entries"
ENTRIES_SUMS = "custody/entries.sha256"
HEAD = "custody/head.json"
HEAD_SIG = "custody/head.sig"

_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](\S(?:.*\S)?)$")


def entry_document(entry: CustodyEntry) -> bytes:
    return entry_bytes(entry)


def sums_text(items: Iterable[tuple[str, str]]) -> bytes:
    """``sha256sum`` output: ``<hex>  <path>`` lines."""
    return "".join(f"{digest}  {name}\n" for digest, name in items).encode("utf-8")


def parse_sums(data: bytes) -> tuple[dict[str, str], list[str]]:
    """Entries of a sha256sum file, and the lines that are not valid entries."""
    entries: dict[str, str] = {}
    bad: list[str] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {}, ["not UTF-8 text"]
    if text and not text.endswith("\n"):
        bad.append("last line has no newline")
    for number, line in enumerate(text.splitlines(), 1):
        match = _SUM_LINE.match(line)
        if match is None or match.group(2) in entries:
            bad.append(f"line {number} is not a valid sha256sum entry: {line[:80]!r}")
            continue
        entries[match.group(2)] = match.group(1)
    return entries, bad


def read_resource(warc: Path, offset: int) -> bytes:
    """The block of the (non-HTTP) record whose gzip member starts at ``offset``."""
    with warc.open("rb") as fh:
        fh.seek(offset)
        z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = b""
        while not z.eof:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            data += z.decompress(chunk)
    head, _, block = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    return block[: int(match.group(1))] if match else block


def file_sha256(path: Path) -> str | None:
    """The file's sha256, read in 1 MiB blocks (None when it cannot be read)."""
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def zip_folder(work: Path, part: Path, *, stored: Iterable[str] = (WACZ,)) -> None:
    """Every file under ``work`` into the new zip ``part`` (fixed dates, sorted), copied
    in 1 MiB blocks and fsynced; the names in ``stored`` (already compressed) are not
    compressed again."""
    keep = set(stored)
    files = sorted(p for p in work.rglob("*") if p.is_file())
    with zipfile.ZipFile(part, "x", allowZip64=True) as zf:
        for path in files:
            name = path.relative_to(work).as_posix()
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name in keep else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as dest, path.open("rb") as src:
                shutil.copyfileobj(src, dest, 1 << 20)
    with part.open("rb") as fh:
        os.fsync(fh.fileno())
