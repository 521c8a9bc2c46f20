"""Signed custody heads as files under the storage root: the custody log's anchor outside
the database.

A custody head (:func:`archiver.integrity.seal.seal_custody_head`) says "the log had
``seq`` entries ending in ``head_hash``", signed and timestamped. Kept only in the
database, it can be deleted with the log it vouches for. So every head is also written,
once, to ``<storage>/custody/heads/``::

    head-<seq, 12 digits>-<sha256 of the document, 16 hex>.json   the signed bytes
    head-....sig   the Ed25519 signature (64 raw bytes)
    head-....key   the fingerprint of the key that signed it
    head-....tsa-<sha256 of the TSA URL, 12 hex>.tsr   each RFC 3161 token obtained

Files are written under a temporary name and linked into place, never replaced (an
existing name is left as it is). ``archiver verify --store`` checks every file's
signature and token and fails when the log is shorter than any of them, or no longer
has the hash one of them sealed. The folder belongs with the evidence: back it up, or
keep it on write-once storage, apart from the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from archiver.errors import StoreError
from archiver.models import CustodyHead, TimestampRecord
from archiver.store.db import Database
from archiver.store.files import write_atomic

HEADS_DIR = "custody/heads"


def head_stem(seq: int, document_sha256: str) -> str:
    return f"head-{seq:012d}-{document_sha256[:16]}"


def tsa_tag(url: str) -> str:
    return "tsa-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class HeadFile:
    """One head as read back from the folder (``seq`` and ``head_hash`` None when the
    document is not a head statement)."""

    name: str  # path under the storage root, POSIX
    document: bytes
    signature: bytes
    key_fingerprint: str
    seq: int | None
    head_hash: str | None
    tokens: tuple[tuple[str, bytes], ...]  # (path under the root, DER)


def _write_once(path: Path, data: bytes) -> None:
    if path.exists():
        return
    with contextlib.suppress(FileExistsError):  # written meanwhile by another process
        write_atomic(path, data)


def sync_head_files(root: Path, db: Database) -> list[str]:
    """Write every sealed head, and every token obtained for one, that has no file yet;
    return what could not be written (stamping goes on without it)."""
    with db.session() as session:
        heads = [
            (str(h.id), h.seq, bytes(h.document), h.document_sha256, bytes(h.signature),
             h.key_fingerprint)
            for h in session.scalars(select(CustodyHead).order_by(CustodyHead.id))
        ]  # fmt: skip
        tokens = session.execute(
            select(TimestampRecord.subject_id, TimestampRecord.tsa_url, TimestampRecord.token)
            .where(
                TimestampRecord.subject_type == "custody_head",
                TimestampRecord.status == "granted",
            )
            .order_by(TimestampRecord.id)
        ).all()
    folder = root / HEADS_DIR
    present = set(os.listdir(folder)) if folder.is_dir() else set()
    stems: dict[str, str] = {}
    wanted: list[tuple[str, bytes]] = []
    for head_id, seq, document, digest, signature, key in heads:
        stem = stems[head_id] = head_stem(seq, digest)
        wanted += [
            (f"{stem}.json", document),
            (f"{stem}.sig", signature),
            (f"{stem}.key", (key + "\n").encode("ascii")),
        ]
    for head_id, url, token in tokens:
        if head_id in stems and token is not None:
            wanted.append((f"{stems[head_id]}.{tsa_tag(url)}.tsr", bytes(token)))
    errors: list[str] = []
    for name, data in wanted:
        if name in present:
            continue
        try:
            _write_once(folder / name, data)
        except (OSError, StoreError) as exc:
            errors.append(f"{HEADS_DIR}/{name}: not written: {exc}")
    return errors


def read_head_files(root: Path) -> tuple[list[HeadFile], list[tuple[str, str]]]:
    """Every head in the folder, and ``(path, problem)`` for what cannot be read."""
    folder = root / HEADS_DIR
    if not folder.is_dir():
        return [], []
    heads: list[HeadFile] = []
    problems: list[tuple[str, str]] = []
    names = sorted(os.listdir(folder))
    for name in names:
        if not (name.startswith("head-") and name.endswith(".json")):
            continue
        stem = name.removesuffix(".json")
        rel = f"{HEADS_DIR}/{name}"
        try:
            document = (folder / name).read_bytes()
            signature = (folder / f"{stem}.sig").read_bytes()
            key = (folder / f"{stem}.key").read_text("ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            problems.append((rel, f"cannot be read with its .sig and .key: {exc}"))
            continue
        seq: int | None = None
        head_hash: str | None = None
        try:
            statement = json.loads(document)
            seq, head_hash = int(statement["seq"]), str(statement["head_hash"])
        except (ValueError, KeyError, TypeError):
            pass
        tokens = tuple(
            (f"{HEADS_DIR}/{n}", (folder / n).read_bytes())
            for n in names
            if n.startswith(f"{stem}.tsa-") and n.endswith(".tsr")
        )
        heads.append(HeadFile(rel, document, signature, key, seq, head_hash, tokens))
    return heads, problems
