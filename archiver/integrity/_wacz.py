"""A snapshot as a WACZ 1.1.1 package (https://specs.webrecorder.net/wacz/1.1.1/).

One WARC file, stored uncompressed in the zip (it is gzip already, and replay tools
seek into it) and without ZIP64 fields unless its size needs them, a CDXJ index of its response and resource records, one page in
pages.jsonl, and datapackage.json with the sha256 and size of each of those, whose own
hash is in datapackage-digest.json. ReplayWeb.page and pywb open it as it is.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from archiver import __version__
from archiver.capture.warc import RecordInfo, list_records
from archiver.errors import IntegrityError

WACZ_VERSION = "1.1.1"
_INDEXED = {"response", "resource", "revisit"}
_HEAD_LIMIT = 256 << 10
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class WaczPage:
    url: str
    ts: datetime
    title: str | None
    id: str


def surt(url: str) -> str:
    """Sort-friendly URI Reordering Transform as pywb's indexes use it:
    ``https://www.Example.org/a?b`` -> ``org,example)/a?b``."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        return url  # urn:... artefact URIs are indexed as they are
    host = (parts.hostname or "").lower()
    if re.fullmatch(r"[\d.]+|[\da-f:]+", host):
        key = host  # an IP address is not reversed
    else:
        key = ",".join(reversed(re.sub(r"^www\d*\.", "", host).split(".")))
    if parts.port and parts.port not in {80, 443}:
        key += f":{parts.port}"
    key += ")" + (parts.path or "/").lower()
    if parts.query:
        key += "?" + "&".join(sorted(parts.query.lower().split("&")))
    return key


def _warc_ts(date: str | None) -> str:
    digits = re.sub(r"\D", "", date or "")
    return (digits + "0" * 14)[:14]


def _http_head(fh: BinaryIO, offset: int) -> tuple[int | None, str | None]:
    """HTTP status and Content-Type of the response record at ``offset``."""
    fh.seek(offset)
    z = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = b""
    while len(data) < _HEAD_LIMIT and data.count(b"\r\n\r\n") < 2:
        chunk = fh.read(16384)
        if not chunk:
            break
        data += z.decompress(chunk, _HEAD_LIMIT)
    _warc_head, _, rest = data.partition(b"\r\n\r\n")
    http_head = rest.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = http_head.split("\r\n")
    match = re.match(r"HTTP/\S+\s+(\d{3})", lines[0])
    status = int(match.group(1)) if match else None
    mime = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-type":
            mime = value.split(";")[0].strip().lower() or None
    return status, mime


def cdxj_lines(warc: Path, name: str, records: list[RecordInfo]) -> list[str]:
    """One CDXJ line per response/resource/revisit record, sorted as pywb sorts."""
    lines = []
    with warc.open("rb") as fh:
        for record in records:
            if record.warc_type not in _INDEXED or not record.target_uri:
                continue
            entry: dict[str, Any] = {"url": record.target_uri}
            if record.warc_type == "response":
                status, mime = _http_head(fh, record.offset)
                entry["mime"] = mime or "unk"
                if status is not None:
                    entry["status"] = str(status)
            else:
                entry["mime"] = (record.content_type or "unk").split(";")[0].strip()
                if record.warc_type == "resource":
                    entry["status"] = "200"
            if record.payload_digest:
                entry["digest"] = record.payload_digest
            entry["length"] = str(record.length)
            entry["offset"] = str(record.offset)
            entry["filename"] = name
            key = f"{surt(record.target_uri)} {_warc_ts(record.date)}"
            lines.append(f"{key} {json.dumps(entry, ensure_ascii=False, separators=(', ', ': '))}")
    lines.sort()
    return lines


def _add(zf: zipfile.ZipFile, path: str, data: bytes, resources: list[dict[str, Any]]) -> None:
    info = zipfile.ZipInfo(path, _ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)
    resources.append(
        {
            "name": path.rsplit("/", 1)[-1].lower(),
            "path": path,
            "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
    )


def write_wacz(
    out: Path,
    warc: Path,
    warc_sha256: str,
    page: WaczPage,
    *,
    created: datetime,
    title: str,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write ``out`` (a new file) holding ``warc`` as WACZ 1.1.1."""
    name = warc.name
    records = list_records(warc)
    index = ("\n".join(cdxj_lines(warc, name, records)) + "\n").encode("utf-8")
    pages = (
        json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "All Pages"})
        + "\n"
        + json.dumps(
            {
                "id": page.id,
                "url": page.url,
                "ts": page.ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "title": page.title or page.url,
            },
            ensure_ascii=False,
        )
        + "\n"
    ).encode("utf-8")
    resources: list[dict[str, Any]] = []
    with zipfile.ZipFile(out, "x") as zf:
        info = zipfile.ZipInfo(f"archive/{name}", _ZIP_DATE)
        info.compress_type = zipfile.ZIP_STORED  # seekable, already gzip
        # ZIP64 only when the size needs it (zipfile decides from file_size): with it
        # forced, ReplayWeb.page (2.4, 2.5) finds no page in the WACZ.
        info.file_size = warc.stat().st_size
        hasher = hashlib.sha256()
        with zf.open(info, "w") as dest, warc.open("rb") as src:
            size = 0
            while chunk := src.read(1 << 20):
                dest.write(chunk)
                hasher.update(chunk)
                size += len(chunk)
        if hasher.hexdigest() != warc_sha256:
            raise IntegrityError(
                f"{warc}: sha256 is {hasher.hexdigest()}, but {warc_sha256} was recorded "
                "when it was captured; the stored file has changed (run archiver verify --store)"
            )
        resources.append(
            {
                "name": name.lower(),
                "path": f"archive/{name}",
                "hash": f"sha256:{warc_sha256}",
                "bytes": size,
            }
        )
        _add(zf, "indexes/index.cdx", index, resources)
        _add(zf, "pages/pages.jsonl", pages, resources)
        created_text = created.strftime("%Y-%m-%dT%H:%M:%SZ")
        package: dict[str, Any] = {
            "profile": "data-package",
            "resources": resources,
            "title": title,
            "mainPageURL": page.url,
            "mainPageDate": page.ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "created": created_text,
            "modified": created_text,
            "wacz_version": WACZ_VERSION,
            "software": f"evidence-archiver {__version__}",
            **(extra or {}),
        }
        datapackage = json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")
        info = zipfile.ZipInfo("datapackage.json", _ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, datapackage)
        digest = {
            "path": "datapackage.json",
            "hash": "sha256:" + hashlib.sha256(datapackage).hexdigest(),
        }
        info = zipfile.ZipInfo("datapackage-digest.json", _ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, json.dumps(digest, indent=2).encode("utf-8"))
