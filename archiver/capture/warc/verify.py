"""Reading snapshot files back: list their records, and verify every digest.

"Digests verified by readers": a WARC handed to a lawyer is trusted only because a
reader recomputes what the writer promised. :func:`verify_warc` recomputes the block
digest of every record and the payload digest with the same rule the writer uses:
for ``application/http`` records the payload starts after the HTTP head's first blank
line, for other records it is the whole block. (Tests also run ``warcio check``, an
independent implementation, on the same files.)

It never raises on a damaged file: a cut-off file, a corrupt gzip member or garbage
between records becomes a line in the report, and reading resumes at the next gzip
member so one damaged record does not hide the state of the others.

Two things no record digest can show, by WARC's design: a file cut exactly between two
records looks complete (WARC has no end marker), and the WARC header fields themselves
(WARC-Date, WARC-Target-URI, ...) are covered by no digest. Both are covered by the
whole file's sha256, sealed when the file was written and signed in the manifest:
pass it as ``expected_sha256`` (and ``expected_size``).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from archiver.errors import WarcError

from ._digest import ALGORITHM, Digester, parse_label
from ._reader import BlockReader, Fields, ScannedRecord, scan

_READ = 1 << 20
_MAX_HEAD = 1 << 20
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_HTTP_TYPES = {"request", "response", "revisit"}
# Records this project always gives a payload digest (requests only with a body).
_PAYLOAD_TYPES = {"response", "resource"}


@dataclass(frozen=True)
class RecordInfo:
    """A record's header fields as a reader sees them (None when absent)."""

    offset: int  # of the record (its gzip member) in the file
    length: int | None  # of the gzip member in the file; None if it never ends
    warc_type: str | None
    record_id: str | None
    date: str | None
    target_uri: str | None
    content_type: str | None
    content_length: int | None
    block_digest: str | None
    payload_digest: str | None
    truncated: str | None
    ip_address: str | None
    warcinfo_id: str | None
    refers_to: str | None
    concurrent_to: tuple[str, ...]


@dataclass(frozen=True)
class DigestCheck:
    """One digest: ``ok``; ``mismatch``; ``missing`` (no header); ``unsupported``
    (unknown algorithm or undecodable value); ``unreadable`` (the bytes could not be
    read, e.g. corrupt compressed data, or the HTTP head never ends)."""

    status: str
    expected: str | None  # the header's value
    actual: str | None  # recomputed in the header's algorithm, ``algo:<hex>``

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class RecordCheck:
    info: RecordInfo
    bytes_read: int  # of the block
    payload_length: int | None
    block: DigestCheck
    payload: DigestCheck | None  # None: no payload digest is expected or present
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class VerifyReport:
    path: Path
    size: int
    sha256: str | None  # of the whole file, computed only when one was expected
    records: tuple[RecordCheck, ...]
    problems: tuple[str, ...]  # about the file, outside any one record

    @property
    def ok(self) -> bool:
        return bool(self.records) and not self.problems and all(r.ok for r in self.records)

    def failures(self) -> list[str]:
        """Every problem as one line, file-level first."""
        lines = list(self.problems)
        for record in self.records:
            info = record.info
            where = f"offset {info.offset} {info.warc_type} {info.record_id} {info.target_uri}"
            lines += [f"{where}: {problem}" for problem in record.problems]
        return lines


def list_records(path: str | os.PathLike[str]) -> list[RecordInfo]:
    """Header fields of every record, without hashing; WarcError on a damaged file."""
    try:
        with open(path, "rb") as fh:
            scanned, problems = scan(fh, os.fstat(fh.fileno()).st_size, _skip)
    except OSError as exc:
        raise WarcError(f"cannot read {path}: {exc.strerror or exc}") from exc
    problems += [p for record in scanned for p in record.problems]
    if problems:
        raise WarcError(f"{path} is damaged: {problems[0]}")
    return [_info(record) for record in scanned]


def verify_warc(
    path: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
) -> VerifyReport:
    """Recompute every block and payload digest and compare them with the headers."""
    file = Path(path)
    problems: list[str] = []
    try:
        with open(file, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            scanned, problems = scan(fh, size, _hash_block)
            sha256 = _file_sha256(fh) if expected_sha256 is not None else None
    except OSError as exc:
        return VerifyReport(file, 0, None, (), (f"cannot read: {exc.strerror or exc}",))
    if expected_size is not None and size != expected_size:
        problems.append(f"file is {size} bytes, {expected_size} expected")
    if expected_sha256 is not None and sha256 != expected_sha256.lower():
        problems.append(f"file sha256 is {sha256}, {expected_sha256} expected")
    if not scanned:
        problems.append("no WARC record could be read")
    records = tuple(_judge(record) for record in scanned)
    return VerifyReport(file, size, sha256, records, tuple(problems))


@dataclass
class _Hashes:
    block: Digester
    payload: Digester
    payload_length: int | None  # None: an HTTP head that never ends


def _skip(fields: Fields, block: BlockReader) -> None:
    while block.read():
        pass


def _hash_block(fields: Fields, block: BlockReader) -> _Hashes:
    """Hash the block, and the payload after the HTTP head when there is one."""
    warc_type = fields.get("WARC-Type")
    http = warc_type in _HTTP_TYPES and (fields.get("Content-Type") or "").startswith(
        "application/http"
    )
    hashes = _Hashes(
        _hasher(fields.get("WARC-Block-Digest")), _hasher(fields.get("WARC-Payload-Digest")), 0
    )
    head: bytearray | None = bytearray() if http else None  # until the head's blank line
    while chunk := block.read():
        hashes.block.update(chunk)
        if head is not None:
            head += chunk
            match = _HEAD_END.search(head)
            if match is None:
                if len(head) > _MAX_HEAD:
                    head, hashes.payload_length = None, None
                continue
            chunk, head = bytes(head[match.end() :]), None
        if hashes.payload_length is not None:
            hashes.payload.update(chunk)
            hashes.payload_length += len(chunk)
    if head is not None:
        hashes.payload_length = None
    return hashes


def _judge(record: ScannedRecord[_Hashes]) -> RecordCheck:
    info = _info(record)
    problems = list(record.problems)
    hashes = record.result
    block_label, payload_label = info.block_digest, info.payload_digest
    if hashes is None:
        block = DigestCheck("unreadable", block_label, None)
    else:
        block = _compare(block_label, hashes.block)
    if not block.ok:
        problems.append(f"block digest {block.status}: {_pair(block)}")

    payload_length = hashes.payload_length if hashes else None
    wants = info.warc_type in _PAYLOAD_TYPES or (info.warc_type == "request" and payload_length)
    payload: DigestCheck | None = None
    # A revisit's payload digest describes an earlier capture: nothing here to hash.
    if info.warc_type != "revisit" and (payload_label or wants):
        if hashes is None or payload_length is None:
            payload = DigestCheck("unreadable", payload_label, None)
        else:
            payload = _compare(payload_label, hashes.payload)
        if not payload.ok:
            problems.append(f"payload digest {payload.status}: {_pair(payload)}")
    return RecordCheck(info, record.bytes_read, payload_length, block, payload, tuple(problems))


def _hasher(label: str | None) -> Digester:
    parsed = parse_label(label) if label else None
    return Digester(parsed[0] if parsed else ALGORITHM)


def _compare(label: str | None, digester: Digester) -> DigestCheck:
    actual = digester.label()
    if not label:
        return DigestCheck("missing", None, actual)
    parsed = parse_label(label)
    if parsed is None:
        return DigestCheck("unsupported", label, None)
    return DigestCheck("ok" if parsed[1] == digester.digest() else "mismatch", label, actual)


def _pair(check: DigestCheck) -> str:
    return f"header {check.expected or '-'}, computed {check.actual or '-'}"


def _info(
    record: ScannedRecord[object] | ScannedRecord[_Hashes] | ScannedRecord[None],
) -> RecordInfo:
    get = record.fields.get
    return RecordInfo(
        offset=record.offset,
        length=record.length,
        warc_type=get("WARC-Type"),
        record_id=get("WARC-Record-ID"),
        date=get("WARC-Date"),
        target_uri=get("WARC-Target-URI"),
        content_type=get("Content-Type"),
        content_length=record.fields.content_length(),
        block_digest=get("WARC-Block-Digest"),
        payload_digest=get("WARC-Payload-Digest"),
        truncated=get("WARC-Truncated"),
        ip_address=get("WARC-IP-Address"),
        warcinfo_id=get("WARC-Warcinfo-ID"),
        refers_to=get("WARC-Refers-To"),
        concurrent_to=record.fields.get_all("WARC-Concurrent-To"),
    )


def _file_sha256(fh: BinaryIO) -> str:
    digest = hashlib.sha256()
    fh.seek(0)
    while chunk := fh.read(_READ):
        digest.update(chunk)
    return digest.hexdigest()
