"""Ingesting a report: harvest its citations, keep its bytes, record it in one transaction.

The harvest is pure and runs first, so a report that cannot be read stores nothing.
Then the original bytes are stored content-addressed (idempotent), and the report, its
citations and any new sources are written in a single database transaction: either all
of it is there afterwards or none of it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archiver.errors import StoreError
from archiver.harvest import classify_url, harvest, normalize_url
from archiver.harvest.model import Format, HarvestResult
from archiver.integrity import custody
from archiver.integrity.report_seal import citations_document, seal_details
from archiver.models import Citation, Report, Source
from archiver.storage import ObjectStore
from archiver.store.db import Database
from archiver.store.files import sha256_hex, store_content

_SUFFIX = {
    Format.TEXT: ".txt",
    Format.MARKDOWN: ".md",
    Format.HTML: ".html",
    Format.PDF: ".pdf",
    Format.DOCX: ".docx",
}
# Stay far below SQLite's bound-parameter limit when looking sources up in bulk.
_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class IngestOutcome:
    """What adding one report did, for the CLI summary and the daemon's log."""

    origin: str
    report_id: int
    sha256: str
    title: str | None
    format: str
    already_stored: bool
    citations: int
    sources: int
    new_sources: int
    by_platform: dict[str, int]
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The outcome as printed by `archiver add --json` and returned by the web API."""
        return {
            "origin": self.origin,
            "report_id": self.report_id,
            "sha256": self.sha256,
            "title": self.title,
            "format": self.format,
            "already_stored": self.already_stored,
            "citations": self.citations,
            "sources": self.sources,
            "new_sources": self.new_sources,
            "by_platform": self.by_platform,
            "skipped": self.skipped,
            "warnings": list(self.warnings),
        }


def url_key(normalized_url: str) -> str:
    return hashlib.sha256(normalized_url.encode("utf-8")).hexdigest()


def ingest_report(
    db: Database,
    reports_root: Path,
    data: bytes,
    *,
    origin: str,
    clock: Callable[[], datetime],
    filename: str | None = None,
    content_type: str | None = None,
    fetched_url: str | None = None,
    max_bytes: int = 50 * 1024 * 1024,
    actor: str = "system",
    replica: ObjectStore | None = None,
) -> IngestOutcome:
    """Harvest and store one report. Adding the same bytes twice is a no-op. A new
    report gets a ``report_added`` custody entry by ``actor`` in its own transaction,
    sealing its bytes and its citations (archiver.integrity.report_seal). ``replica``:
    a bucket (storage.warc_url) that gets a copy of the original, under Object Lock
    where configured, before the report's row is written (docs/storage.md)."""
    digest = sha256_hex(data)
    with db.session() as session:
        existing = session.scalar(select(Report).where(Report.sha256 == digest))
        if existing is not None:
            return _summarise_existing(session, existing, origin)

    result = harvest(
        data,
        filename=filename,
        content_type=content_type,
        base_url=fetched_url,
        max_bytes=max_bytes,
    )
    _, stored = store_content(reports_root, data, _SUFFIX.get(result.format, ".bin"))
    if replica is not None and replica.remote:
        key = (Path("reports") / stored).as_posix()
        replica.put_file(reports_root / stored, key, sha256=digest, size=len(data))

    # Another process may insert the same sources (or report) between our read and
    # write; the unique keys catch that and the transaction is simply tried again.
    for attempt in range(3):
        try:
            return _record(db, result, digest, len(data), stored, origin, fetched_url, clock, actor)
        except StoreError as exc:
            if not isinstance(exc.__cause__, IntegrityError) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _record(
    db: Database,
    result: HarvestResult,
    digest: str,
    size: int,
    stored: Path,
    origin: str,
    fetched_url: str | None,
    clock: Callable[[], datetime],
    actor: str,
) -> IngestOutcome:
    now = clock()
    with db.session() as session:
        existing = session.scalar(select(Report).where(Report.sha256 == digest))
        if existing is not None:
            return _summarise_existing(session, existing, origin)
        normalized = [normalize_url(c.url) for c in result.citations]
        claims = citations_document(
            (c.position, c.marker, c.url, c.context) for c in result.citations
        )
        sources, created = _sources_for(session, normalized, now)
        report = Report(
            sha256=digest,
            size_bytes=size,
            title=result.title,
            format=str(result.format),
            encoding=result.encoding,
            origin=origin,
            fetched_url=fetched_url,
            stored_path=str(Path("reports") / stored),
            ingested_at=now,
            harvest_notes={
                "skipped": [{"url": s.url, "reason": s.reason} for s in result.skipped],
                "warnings": list(result.warnings),
            },
        )
        session.add(report)
        session.flush()
        # Core executemany, not ORM objects: a report can cite 10,000 links.
        if result.citations:
            session.execute(
                insert(Citation),
                [
                    {
                        "report_id": report.id,
                        "source_id": sources[url][0],
                        "position": citation.position,
                        "marker": citation.marker,
                        "url_as_cited": citation.url,
                        "context": citation.context,
                    }
                    for citation, url in zip(result.citations, normalized, strict=True)
                ],
            )
        custody.append(
            session,
            at=now,
            actor=actor,
            action="report_added",
            subject_type="report",
            subject_id=str(report.id),
            # The claims are sealed with the bytes (archiver.integrity.report_seal).
            details={
                "sha256": digest,
                "origin": origin,
                **seal_details(size, str(result.format), claims),
            },
        )
        unique = {sources[u] for u in normalized}
        return IngestOutcome(
            origin=origin,
            report_id=report.id,
            sha256=digest,
            title=result.title,
            format=str(result.format),
            already_stored=False,
            citations=len(result.citations),
            sources=len(unique),
            new_sources=created,
            by_platform=dict(Counter(platform for _, platform in unique)),
            skipped=dict(Counter(s.reason for s in result.skipped)),
            warnings=result.warnings,
        )


def _sources_for(
    session: Session, urls: Sequence[str], now: datetime
) -> tuple[dict[str, tuple[int, str]], int]:
    """(id, platform) of the Source for each normalized URL, creating missing ones;
    and how many were created."""
    wanted = {url_key(u): u for u in urls}
    found: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(list(wanted), _LOOKUP_CHUNK):
        rows = session.execute(
            select(Source.url, Source.id, Source.platform).where(Source.url_sha256.in_(chunk))
        )
        for url, source_id, platform in rows:
            found[url] = (source_id, platform)
    missing = []
    for key, url in wanted.items():
        if url not in found:
            kind = classify_url(url)
            missing.append(
                {
                    "url": url,
                    "url_sha256": key,
                    "platform": str(kind.platform),
                    "kind": str(kind.kind),
                    "state": "pending",
                    "state_since": now,
                    "first_seen_at": now,
                    "next_check_at": now,
                    "capture_attempts": 0,
                    "next_capture_at": now,
                }
            )
    if missing:
        rows = session.execute(
            insert(Source).returning(Source.url, Source.id, Source.platform), missing
        )
        for url, source_id, platform in rows:
            found[url] = (source_id, platform)
    return found, len(missing)


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _summarise_existing(session: Session, report: Report, origin: str) -> IngestOutcome:
    citations = session.scalars(select(Citation).where(Citation.report_id == report.id)).all()
    source_ids = {c.source_id for c in citations}
    platforms: Counter[str] = Counter()
    if source_ids:
        ids = sorted(source_ids)
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start : start + _LOOKUP_CHUNK]
            platforms.update(session.scalars(select(Source.platform).where(Source.id.in_(chunk))))
    notes = report.harvest_notes or {}
    return IngestOutcome(
        origin=origin,
        report_id=report.id,
        sha256=report.sha256,
        title=report.title,
        format=report.format,
        already_stored=True,
        citations=len(citations),
        sources=len(source_ids),
        new_sources=0,
        by_platform=dict(platforms),
        skipped=dict(Counter(s["reason"] for s in notes.get("skipped", []))),
        warnings=tuple(notes.get("warnings", [])),
    )
