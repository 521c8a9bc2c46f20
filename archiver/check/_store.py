"""The database edge of the re-check: choosing due sources, loading baselines, host
profiles and history, and recording one batch in one transaction."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]
from warcio.exceptions import ArchiveLoadFailed  # type: ignore[import-untyped]

from archiver.capture.decode import decode_body
from archiver.check import text as texts
from archiver.check.classify import Baseline, NotFoundProfile
from archiver.check.fields import baseline_fields
from archiver.check.machine import Seen
from archiver.check.probe import charset_of
from archiver.errors import StoreError
from archiver.harvest.urls import as_requested
from archiver.models import Baseline as BaselineRow
from archiver.models import (
    CheckResult,
    Citation,
    HostProfile,
    Observation,
    PlatformRecord,
    Snapshot,
    Source,
)
from archiver.storage import LocalStore, ObjectStore

log = logging.getLogger(__name__)

# Observations the state machine looks back over, per source.
HISTORY_DEPTH = 50
# Stored for observations that imply nothing (our own side failed).
SILENT = "none"


@dataclass(frozen=True)
class DueCheck:
    id: int
    url: str
    platform: str
    kind: str
    state: str
    first_seen_at: datetime
    # The URL as its first citation wrote it: what is fetched (the normalized ``url``
    # only decides which citations share the source).
    cited: str | None = None

    @property
    def fetch_url(self) -> str:
        return as_requested(self.cited) if self.cited else self.url


def due_checks(
    session: Session,
    now: datetime,
    *,
    limit: int | None = None,
    source_ids: Sequence[int] | None = None,
    everything: bool = False,
    first_interval: float = 0.0,
    claimable: ColumnElement[bool] | None = None,
) -> list[DueCheck]:
    """Sources whose check is due (or the ones named, or all that were ever captured).
    Sources the capture has not tried yet belong to the capture. One it tried can still
    be pending (it saw an accusation, a removed video or a 404, that waits for a
    confirming check): it is checked like any other. A source never checked is first
    due ``first_interval`` after its capture looked at it. ``claimable``: only those
    it says (not those another runner holds: archiver.store.leases)."""
    query = select(Source).order_by(Source.next_check_at.is_not(None), Source.next_check_at)
    if source_ids is not None:
        query = select(Source).where(Source.id.in_(list(source_ids))).order_by(Source.id)
    else:
        query = query.where(
            or_(
                Source.state != "pending",
                Source.capture_attempts > 0,
                Source.last_checked_at.is_not(None),
            )
        )
        if not everything:
            # A next check time older than the last look (set at ingest, before the
            # capture looked) is stale: then the first check follows that look by
            # first_interval.
            query = query.where(
                or_(Source.next_check_at.is_(None), Source.next_check_at <= now),
                or_(
                    Source.last_checked_at.is_(None),
                    Source.next_check_at >= Source.last_checked_at,
                    Source.last_checked_at <= now - timedelta(seconds=first_interval),
                ),
            )
    if claimable is not None:
        query = query.where(claimable)
    if limit is not None:
        query = query.limit(limit)
    sources = list(session.scalars(query))
    first = select(func.min(Citation.id)).group_by(Citation.source_id)
    first = first.where(Citation.source_id.in_([s.id for s in sources]))
    cited = dict(
        session.execute(
            select(Citation.source_id, Citation.url_as_cited).where(Citation.id.in_(first))
        ).all()
    )
    return [
        DueCheck(s.id, s.url, s.platform, s.kind, s.state, s.first_seen_at, cited.get(s.id))
        for s in sources
    ]


# More main text than any article has; a bomb stops here.
_BASELINE_LIMIT = 16 * 1024 * 1024


def _baseline_text(root: Path | ObjectStore, snapshot: Snapshot) -> texts.Extracted | None:
    """Main text of the snapshot's main response, read from its WARC file (streamed
    from the store: the storage folder ``root``, or a bucket)."""
    target = snapshot.final_url
    store = LocalStore(root) if isinstance(root, Path) else root
    try:
        with store.open(snapshot.warc_path) as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response":
                    continue
                if record.rec_headers.get_header("WARC-Target-URI") != target:
                    continue
                status = record.http_headers.get_statuscode() if record.http_headers else None
                if status is None or not str(status).startswith("2"):
                    continue
                # The body as stored (content coding kept), decoded by our own bounded
                # decoder: warcio's would fail on br with Google's brotli module, read
                # zstd as it is, and inflate a gzip bomb without limit.
                raw = iter(functools.partial(record.raw_stream.read, 1 << 16), b"")
                encoding = record.http_headers.get_header("Content-Encoding")
                decoded = decode_body(raw, encoding, _BASELINE_LIMIT)
                if decoded.error:
                    log.warning("baseline of snapshot %s: %s", snapshot.id, decoded.error)
                    return None
                data = decoded.data
                content_type = record.http_headers.get_header("Content-Type")
                html = data.decode(charset_of(content_type, data), errors="replace")
                return texts.extract(html)
    except (OSError, ArchiveLoadFailed, StoreError) as exc:
        log.warning("baseline of snapshot %s unreadable: %s", snapshot.id, exc)
    return None


_FORMS = frozenset({texts.ARTICLE_FORM, texts.PAGE_FORM})


def _complete(root: Path | ObjectStore, session: Session, row: BaselineRow) -> None:
    """Give a baseline stored before figures were compared (or in an older literal
    form) its main text in the current form, read again from the *same* snapshot's
    WARC: the baseline is not replaced, only completed. The masked text it was made
    with stays as it is. Unreadable: left NULL (figures are then not compared)."""
    snapshot = session.get(Snapshot, row.snapshot_id)
    seen = None if snapshot is None else _baseline_text(root, snapshot)
    if seen is not None:
        row.main_text, row.text_form = seen.text, seen.form


def load_baselines(
    session: Session, root: Path | ObjectStore, source_ids: Sequence[int], now: datetime
) -> dict[int, Baseline]:
    """Each source's baseline; made (once, never replaced) from the first good snapshot
    where none exists yet."""
    found = {
        row.source_id: row
        for row in session.scalars(
            select(BaselineRow).where(BaselineRow.source_id.in_(list(source_ids)))
        )
    }
    for row in found.values():
        if row.main_text is None or row.text_form not in _FORMS:
            _complete(root, session, row)
    missing = [i for i in source_ids if i not in found]
    if missing:
        snapshots = session.scalars(
            select(Snapshot)
            .where(
                Snapshot.source_id.in_(missing),
                Snapshot.http_status >= 200,
                Snapshot.http_status < 300,
            )
            .order_by(Snapshot.started_at)
        )
        first: dict[int, Snapshot] = {}
        for snapshot in snapshots:
            first.setdefault(snapshot.source_id, snapshot)
        for source_id, snapshot in first.items():
            seen = _baseline_text(root, snapshot)
            if seen is None:
                continue
            text = seen.normalized
            row = BaselineRow(
                source_id=source_id,
                snapshot_id=snapshot.id,
                created_at=now,
                normalized_text=text,
                text_sha256=texts.fingerprint(text),
                payload_sha256=snapshot.payload_sha256,
                final_url=snapshot.final_url,
                main_text=seen.text,
                text_form=seen.form,
            )
            session.add(row)
            found[source_id] = row
    return {
        source_id: Baseline(
            row.snapshot_id,
            row.normalized_text,
            row.payload_sha256,
            row.final_url,
            row.main_text if row.text_form in _FORMS else None,
            row.text_form,
        )
        for source_id, row in found.items()
    }


def load_profiles(
    session: Session, hosts: Sequence[str], fresh_after: datetime
) -> dict[str, NotFoundProfile]:
    rows = session.scalars(
        select(HostProfile).where(
            HostProfile.host.in_(list(hosts)), HostProfile.checked_at >= fresh_after
        )
    )
    return {
        row.host: NotFoundProfile(row.host, row.http_status, row.final_url, row.normalized_text)
        for row in rows
    }


def save_profiles(session: Session, profiles: Sequence[NotFoundProfile], now: datetime) -> None:
    for profile in profiles:
        row = session.get(HostProfile, profile.host)
        if row is None:
            row = HostProfile(host=profile.host)
            session.add(row)
        row.checked_at = now
        row.http_status = profile.status
        row.final_url = profile.final_url
        row.normalized_text = profile.normalized_text


def load_history(session: Session, source_ids: Sequence[int]) -> dict[int, list[Seen]]:
    """Recent observations per source (captures and checks), oldest first."""
    rows = session.execute(
        select(Observation, CheckResult.degraded)
        .outerjoin(CheckResult, CheckResult.observation_id == Observation.id)
        .where(Observation.source_id.in_(list(source_ids)))
        .order_by(Observation.source_id, Observation.observed_at.desc(), Observation.id.desc())
    )
    history: dict[int, list[Seen]] = {}
    for observation, degraded in rows:
        items = history.setdefault(observation.source_id, [])
        if len(items) >= HISTORY_DEPTH:
            continue
        implied: str | None = observation.implied_state
        if implied in (SILENT, "pending") or observation.failure_kind == "internal":
            implied = None
        items.append(
            Seen(
                observation.observed_at, implied, observation.reason, observation.id, bool(degraded)
            )
        )
    for items in history.values():
        items.reverse()
    return history


def load_platform_fields(
    session: Session, baselines: Mapping[int, Baseline]
) -> dict[int, dict[str, Any]]:
    """The comparable fields (archiver.check.fields) of each baseline snapshot that has
    a platform record: a video's title, description, duration; a post's text."""
    wanted = {b.snapshot_id: source_id for source_id, b in baselines.items()}
    if not wanted:
        return {}
    rows = session.execute(
        select(PlatformRecord.snapshot_id, PlatformRecord.platform, PlatformRecord.extracted).where(
            PlatformRecord.snapshot_id.in_(list(wanted))
        )
    )
    return {
        wanted[snapshot_id]: baseline_fields(platform, extracted)
        for snapshot_id, platform, extracted in rows
    }
