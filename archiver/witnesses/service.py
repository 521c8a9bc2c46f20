"""Earlier copies for sources we could not preserve: which sources, which moment, and
recording what was found (I/O: the database, the storage folder, the archives).

A source is looked up when our own capture did not preserve it (no 2xx snapshot: the
capture failed, or the page was already gone), when its capture saw it dead or removed
(a platform's "removed" page answers 200), or when it is dead or removed, and no
third-party copy is held yet; ``archiver witnesses SOURCE`` asks for any source. A
lookup that found nothing is asked again after :data:`RETRY_AFTER` (archives backfill,
an archive that was down may answer). Each found copy is recorded in one transaction:
its snapshot row, seal (manifest, signature, pending stamps, custody entry), the
third-party row and the lookup; what was not found is recorded as a lookup too, so the
pages can say "no earlier copy found (archives asked: ...)".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from archiver.capture.http import Fetcher
from archiver.capture.runner import capture_settings_record
from archiver.capture.who import captured_by
from archiver.config import Settings
from archiver.errors import ArchiverError
from archiver.integrity.seal import Sealer
from archiver.models import (
    Citation,
    Observation,
    Report,
    Snapshot,
    Source,
    ThirdPartyCopy,
    WitnessLookup,
)
from archiver.storage import open_store, publish
from archiver.store.db import Database, insert_rows
from archiver.witnesses.dates import target_moment
from archiver.witnesses.lookup import ArchiveLookup, Found
from archiver.witnesses.record import Retrieved, original_status, write_copy

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(days=7)
# States that say the page is gone: an earlier copy is wanted even if we hold one.
GONE = ("dead", "removed")
_TEXT_FORMATS = ("text", "markdown", "html")
# The opening of a report is all the date reading needs.
_REPORT_BYTES = 64 * 1024


class WitnessesDisabled(ArchiverError):
    """``witnesses.enabled`` is false: no archive may be contacted."""


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class LookupOutcome:
    source_id: int
    url: str
    outcome: str  # "found", "none", "failed"
    message: str
    asked: list[dict[str, str]]
    snapshot_id: str | None = None
    archive: str | None = None
    memento_url: str | None = None
    memento_datetime: datetime | None = None
    target_at: datetime | None = None
    target_basis: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "url": self.url,
            "outcome": self.outcome,
            "message": self.message,
            "asked": self.asked,
            "snapshot_id": self.snapshot_id,
            "archive": self.archive,
            "memento_url": self.memento_url,
            "memento_datetime": _iso(self.memento_datetime),
            "target_at": _iso(self.target_at),
            "target_basis": self.target_basis,
        }


@dataclass(frozen=True)
class _Job:
    source_id: int
    url: str
    cited_as: tuple[str, ...]
    target_at: datetime
    target_basis: str


def _preserved() -> Any:
    return select(Snapshot.source_id).where(Snapshot.http_status >= 200, Snapshot.http_status < 300)


def wanting_copies(session: Session, now: datetime, limit: int | None = None) -> list[int]:
    """Sources whose capture was tried and did not preserve them (or that are dead or
    removed), with no third-party copy, and no lookup in the last week."""
    has_copy = exists().where(ThirdPartyCopy.source_id == Source.id)
    recent = exists().where(
        WitnessLookup.source_id == Source.id, WitnessLookup.asked_at > now - RETRY_AFTER
    )
    query = (
        select(Source.id)
        .where(Source.capture_attempts > 0)
        .where(
            or_(
                Source.id.not_in(_preserved()),
                Source.state.in_(GONE),
                # A page our capture saw already removed (a platform's "Video
                # unavailable" answers 200): its snapshot preserves only that.
                Source.id.in_(
                    select(Observation.source_id).where(
                        Observation.via == "capture", Observation.implied_state.in_(GONE)
                    )
                ),
            )
        )
        .where(~has_copy, ~recent)
        .order_by(Source.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def _report_text(settings: Settings, report: Report) -> str | None:
    if report.format not in _TEXT_FORMATS:
        return None  # PDF, DOCX: the title is read, the body would need the harvest
    try:
        with (settings.storage.root / report.stored_path).open("rb") as fh:
            data = fh.read(_REPORT_BYTES)
    except OSError:
        return None
    return data.decode(report.encoding or "utf-8", "replace")


def _job(settings: Settings, session: Session, source_id: int) -> _Job:
    source = session.get(Source, source_id)
    if source is None:
        raise ArchiverError(f"no source {source_id}")
    citations = session.scalars(
        select(Citation).where(Citation.source_id == source_id).order_by(Citation.id)
    ).all()
    cited_as = tuple(dict.fromkeys(c.url_as_cited for c in citations))
    reports = [session.get(Report, rid) for rid in dict.fromkeys(c.report_id for c in citations)]
    first = min((r for r in reports if r is not None), key=lambda r: r.ingested_at, default=None)
    if first is None:
        target, basis = source.first_seen_at, "intake"
    else:
        target, basis = target_moment(first.title, _report_text(settings, first), first.ingested_at)
    # The URL as the report cited it is the evidence: archives are asked for it.
    return _Job(source_id, cited_as[0] if cited_as else source.url, cited_as, target, basis)


class Witnesses:
    """Looks up, fetches and records earlier copies (``Archive.witnesses``)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        clock: Callable[[], datetime],
        sealer: Callable[[], Sealer],
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self._sealer = sealer

    def due(self, limit: int | None = None) -> list[int]:
        with self.db.session() as session:
            return wanting_copies(session, self.clock(), limit)

    def look_up(
        self, source_ids: Sequence[int], *, should_stop: Callable[[], bool] | None = None
    ) -> list[LookupOutcome]:
        """Ask the archives for each source now (whatever was asked before)."""
        return asyncio.run(self.look_up_async(source_ids, should_stop=should_stop))

    async def look_up_async(
        self, source_ids: Sequence[int], *, should_stop: Callable[[], bool] | None = None
    ) -> list[LookupOutcome]:
        """As :meth:`look_up`, in the caller's event loop; once ``should_stop()`` is
        true no further source is looked up (what was found is recorded)."""
        if not self.settings.witnesses.enabled:
            raise WitnessesDisabled("witnesses.enabled is false: no archive is contacted")
        if not source_ids:
            return []
        with self.db.session() as session:
            jobs = [_job(self.settings, session, sid) for sid in source_ids]
        return await self._run(jobs, should_stop or (lambda: False))

    async def look_up_due(
        self, limit: int, *, should_stop: Callable[[], bool] | None = None
    ) -> list[LookupOutcome]:
        """The daemon's pass: sources our capture did not preserve, when the settings
        ask for it (``witnesses.enabled`` and ``witnesses.lookup_unpreserved``)."""
        witnesses = self.settings.witnesses
        if not (witnesses.enabled and witnesses.lookup_unpreserved):
            return []
        due = await asyncio.to_thread(self.due, limit)
        return await self.look_up_async(due, should_stop=should_stop)

    async def _run(
        self, jobs: Sequence[_Job], should_stop: Callable[[], bool]
    ) -> list[LookupOutcome]:
        spool = self.settings.storage.root / "tmp"
        spool.mkdir(parents=True, exist_ok=True)
        sealer = self._sealer()
        outcomes = []
        async with Fetcher(
            self.settings.network, self.settings.capture, spool_dir=spool, clock=self.clock
        ) as fetcher:
            lookup = ArchiveLookup(self.settings.witnesses, fetcher)
            for job in jobs:
                if should_stop():
                    break
                started = self.clock()
                found = await lookup.find(job.url, job.target_at)
                try:
                    outcome = await asyncio.to_thread(self._keep, job, found, started, sealer)
                finally:
                    for exchange in [*found.queries, *found.chain]:
                        exchange.close()
                log.info("source %s: %s", job.source_id, outcome.message)
                outcomes.append(outcome)
        return outcomes

    def _keep(self, job: _Job, found: Found, started: datetime, sealer: Sealer) -> LookupOutcome:
        now = self.clock()
        base = LookupOutcome(
            job.source_id, job.url, found.outcome, found.message(), found.asked,
            target_at=job.target_at, target_basis=job.target_basis,
        )  # fmt: skip
        if found.memento is None or found.memento_datetime is None or found.raw_url is None:
            with self.db.session() as session:
                session.add(
                    WitnessLookup(
                        source_id=job.source_id, asked_at=now, outcome=found.outcome,
                        archives=found.asked, snapshot_id=None, message=base.message,
                    )
                )  # fmt: skip
            return base
        retrieved = Retrieved(
            source_id=job.source_id, source_url=job.url, cited_as=job.cited_as,
            memento=found.memento, raw_url=found.raw_url, chain=found.chain,
            queries=found.queries, asked=found.asked, target_at=job.target_at,
            target_basis=job.target_basis, memento_datetime=found.memento_datetime,
            started_at=started, finished_at=now,
        )  # fmt: skip
        written = write_copy(
            self.settings.storage.root,
            retrieved,
            settings=capture_settings_record(self.settings),
            captured_by=captured_by(self.settings),
            clock=self.clock,
            compress_level=self.settings.capture.warc_compression_level,
        )
        # With storage.warc_url: into the bucket before the row (archiver.storage).
        publish(
            open_store(self.settings), self.settings.storage.root, written.relpath.as_posix(),
            sha256=written.sha256, size=written.size,
        )  # fmt: skip
        memento = found.memento
        with self.db.session() as session:
            main = written.main
            insert_rows(
                session,
                Snapshot,
                [
                    dict(
                        id=written.id, source_id=job.source_id, started_at=written.started_at,
                        finished_at=written.finished_at, methods=list(written.methods),
                        warc_path=str(written.relpath), warc_sha256=written.sha256,
                        warc_size=written.size, http_status=None, final_url=main.final_url,
                        redirect_chain=main.chain, payload_sha256=main.payload_sha256,
                        payload_size=main.payload_size, content_type=main.content_type,
                        title=None, failure_kind=None, failure_message=None,
                        tls_verified=main.tls_verified, truncated=written.truncated,
                        artefacts=[], records=written.records, incomplete=[],
                    )
                ],
            )  # fmt: skip
            sealer.seal(
                session,
                [(job.source_id, written)],
                now,
                details={
                    "kind": "third_party",
                    "archive": memento.archive,
                    "memento_url": memento.url,
                },
            )
            session.add(
                ThirdPartyCopy(
                    snapshot_id=written.id, source_id=job.source_id, archive=memento.archive,
                    memento_url=memento.url, raw_url=found.raw_url,
                    memento_datetime=found.memento_datetime,
                    original_status=original_status(found.chain[-1]),
                    listed_by=memento.listed_by, target_at=job.target_at,
                    target_basis=job.target_basis, retrieved_at=now,
                )
            )  # fmt: skip
            session.flush()
            session.add(
                WitnessLookup(
                    source_id=job.source_id, asked_at=now, outcome="found",
                    archives=found.asked, snapshot_id=written.id, message=base.message,
                )
            )  # fmt: skip
        return LookupOutcome(
            **{
                **base.__dict__,
                "snapshot_id": written.id,
                "archive": memento.archive,
                "memento_url": memento.url,
                "memento_datetime": found.memento_datetime,
            }
        )
