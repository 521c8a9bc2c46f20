"""Downloads of evidence: a snapshot's WARC file, its screenshot, its evidence package.

A download is addressed by snapshot id only (a UUID, checked before any lookup); the
file's path comes from the database and must resolve inside the storage root, so no
client-supplied text ever becomes part of a path. Every download is written to the
custody log, with who made it, before a byte is sent: if the log cannot be written,
nothing is sent.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, status

from archiver.capture.warc._reader import BlockReader, Fields, scan
from archiver.errors import ArchiverError
from archiver.integrity import custody
from archiver.models import Snapshot
from archiver.storage import ObjectMissing, ObjectStore, open_store
from archiver.web._context import WebContext
from archiver.web.tokens import Principal

_SNAPSHOT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_READ = 1 << 20


@dataclass(frozen=True)
class Download:
    path: Path | None
    data: bytes | None
    filename: str
    media_type: str
    sha256: str | None
    # A WARC in object storage: its bytes as they come from the bucket, and its size.
    stream: Iterator[bytes] | None = None
    size: int | None = None


def valid_snapshot_id(value: str) -> bool:
    return bool(_SNAPSHOT_ID.match(value))


def load_snapshot(ctx: WebContext, snapshot_id: str) -> Snapshot:
    if not valid_snapshot_id(snapshot_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such snapshot")
    with ctx.archive.db.session() as session:
        snapshot = session.get(Snapshot, snapshot_id)
    if snapshot is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such snapshot")
    return snapshot


def inside_storage(ctx: WebContext, relative: str) -> Path:
    """The stored file's absolute path, refused if it would leave the storage root."""
    root = ctx.settings.storage.root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file in storage")
    if not path.is_file():
        raise HTTPException(status.HTTP_410_GONE, "the stored file is missing")
    return path


def record_download(
    ctx: WebContext,
    principal: Principal,
    snapshot: Snapshot,
    artefact: str,
    sha256: str | None,
    *,
    shown_inline: bool = False,
) -> None:
    details = {"artefact": artefact, "sha256": sha256, "source_id": snapshot.source_id}
    record_custody_download(ctx, principal, "snapshot", snapshot.id, details, shown_inline)


def record_custody_download(
    ctx: WebContext,
    principal: Principal,
    subject_type: str,
    subject_id: str,
    details: Mapping[str, object],
    shown_inline: bool = False,
) -> None:
    """A custody entry: who took what from the archive, in which role, and how."""
    with ctx.archive.db.session() as session:
        custody.append(
            session,
            at=ctx.archive.clock(),
            actor=principal.actor,
            action="download",
            subject_type=subject_type,
            subject_id=subject_id,
            # Shown on the source page (inline) rather than saved as a file.
            details={**details, "role": principal.role.value, "inline": shown_inline},
        )


def warc_download(ctx: WebContext, principal: Principal, snapshot_id: str) -> Download:
    snapshot = load_snapshot(ctx, snapshot_id)
    name, sha256 = f"{snapshot.id}.warc.gz", snapshot.warc_sha256
    store = open_store(ctx.settings)
    if store.remote:
        # Streamed from the bucket: opened (or refused with 410) before the log entry.
        chunks = _object_chunks(store, snapshot.warc_path)
        next(chunks)
        record_download(ctx, principal, snapshot, "warc", sha256)
        return Download(None, None, name, "application/warc", sha256, chunks, snapshot.warc_size)
    path = inside_storage(ctx, snapshot.warc_path)
    record_download(ctx, principal, snapshot, "warc", sha256)
    return Download(path, None, name, "application/warc", sha256)


def _object_chunks(store: ObjectStore, key: str) -> Iterator[bytes]:
    """The object's bytes; the first ``next`` opens it (HTTP 410 if it is gone) and
    yields nothing, so a missing object is known before the response starts."""
    try:
        opened = store.open(key)
        stream = opened.__enter__()
    except ObjectMissing as exc:
        raise HTTPException(status.HTTP_410_GONE, "the stored file is missing") from exc
    try:
        yield b""
        while chunk := stream.read(_READ):
            yield chunk
    finally:
        opened.__exit__(None, None, None)


def read_snapshot_artefact(ctx: WebContext, snapshot: Snapshot, kind: str) -> bytes | None:
    """``read_artefact`` on the snapshot's WARC wherever it is kept."""
    store = open_store(ctx.settings)
    if not store.remote:
        return read_artefact(inside_storage(ctx, snapshot.warc_path), kind)
    try:
        with store.fetched(snapshot.warc_path, ctx.settings.storage.root / "tmp") as path:
            return read_artefact(path, kind)
    except ObjectMissing as exc:
        raise HTTPException(status.HTTP_410_GONE, "the stored file is missing") from exc


def read_artefact(path: Path, kind: str) -> bytes | None:
    """The block of the first resource record whose target is ``urn:<kind>:...``."""
    prefix = f"urn:{kind}:"

    def consume(fields: Fields, block: BlockReader) -> bytes | None:
        target = fields.get("WARC-Target-URI") or ""
        if fields.get("WARC-Type") != "resource" or not target.startswith(prefix):
            while block.read(_READ):
                pass
            return None
        chunks = []
        while chunk := block.read(_READ):
            chunks.append(chunk)
        return b"".join(chunks)

    with path.open("rb") as fh:
        records, _problems = scan(fh, path.stat().st_size, consume)
    return next((r.result for r in records if r.result is not None), None)


def screenshot_download(
    ctx: WebContext, principal: Principal, snapshot_id: str, *, inline: bool = False
) -> Download:
    snapshot = load_snapshot(ctx, snapshot_id)
    artefact = next((a for a in snapshot.artefacts if a.get("kind") == "screenshot"), None)
    if artefact is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this snapshot has no screenshot")
    data = read_snapshot_artefact(ctx, snapshot, "screenshot")
    if data is None:
        raise HTTPException(status.HTTP_410_GONE, "the screenshot record is missing")
    record_download(
        ctx, principal, snapshot, "screenshot", artefact.get("sha256"), shown_inline=inline
    )
    return Download(
        None, data, f"{snapshot.id}-screenshot.png", "image/png", artefact.get("sha256")
    )


def package_download(ctx: WebContext, principal: Principal, snapshot_id: str) -> Download:
    """The evidence package (issue 6's ``export_package``), built for this request."""
    snapshot = load_snapshot(ctx, snapshot_id)
    try:
        from archiver.integrity.export import export_package  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "evidence packages are not available in this installation yet "
            "(archiver.integrity.export is missing); the WARC file can be downloaded",
        ) from exc
    out_dir = ctx.settings.storage.root / "exports" / "web"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{snapshot.id}-{uuid.uuid4().hex[:8]}.zip"
    try:
        written: Path = export_package(
            ctx.archive, snapshot.source_id, snapshot.id, out, principal.actor
        )
    except ArchiverError as exc:
        # E.g. a snapshot not sealed yet, or a WARC that no longer matches its hash.
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    path = inside_storage(ctx, str(written.resolve()))
    record_download(ctx, principal, snapshot, "package", None)
    return Download(
        path, None, f"evidence-{snapshot.source_id}-{snapshot.id}.zip", "application/zip", None
    )
