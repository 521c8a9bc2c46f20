"""What the pages and the API show, read from the store.

The report and source lists come from :func:`archiver.store.status.build_status`, so the
pages, the JSON API and ``archiver status`` agree by construction. A source's page adds
what the status document leaves out: the timeline of observations, and the diffs the
re-check stored (archiver.models.CheckResult).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator
from sqlalchemy import func, select

from archiver.integrity.pending import pending_summary
from archiver.models import CheckResult, Citation, Observation, Report, Snapshot, Source
from archiver.store.db import Database
from archiver.store.status import STATES, _iso, build_status


def _too_long_is_out_of_range(value: object) -> object:
    # Python refuses to read integers of over 4,300 digits (and answers 422); such an
    # id names no row like any other out of range: -1 makes it a 404 as well.
    if isinstance(value, str) and len(value) > 20 and value.lstrip("+-").isdigit():
        return -1
    return value


# A row id in a path: out-of-range values get 404 (the handler checks is_row_id).
RowId = Annotated[int, BeforeValidator(_too_long_is_out_of_range)]


@dataclass
class SourceView:
    source: dict[str, Any]
    timeline: list[dict[str, Any]]
    diffs: list[dict[str, Any]] = field(default_factory=list)
    # (report id, title) for each report citing the source.
    reports: dict[int, str | None] = field(default_factory=dict)
    # Snapshot id -> the page's title as captured (not in the status document).
    page_titles: dict[str, str] = field(default_factory=dict)


def iso(value: datetime | None) -> str | None:
    """UTC time as in the status document: ISO 8601 with a Z."""
    return _iso(value)


def status_document(
    db: Database,
    clock: Callable[[], datetime],
    *,
    report_ids: Collection[int] | None = None,
    source_ids: Collection[int] | None = None,
) -> dict[str, Any]:
    """The status document, whole or for some reports or sources (docs/status.md)."""
    return build_status(db, clock, report_ids=report_ids, source_ids=source_ids)


@dataclass
class Overview:
    generated_at: str | None
    summary: dict[str, Any]
    # Newest first: id, title, origin, ingested_at, citations (count), states.
    reports: list[dict[str, Any]]


def overview(db: Database, clock: Callable[[], datetime]) -> Overview:
    """The front page's numbers, counted by the database rather than read row by row."""
    preserved_ids = select(Snapshot.source_id).where(
        Snapshot.http_status >= 200, Snapshot.http_status < 300
    )
    with db.session() as session:
        by_state = dict(
            session.execute(select(Source.state, func.count()).group_by(Source.state)).all()
        )
        by_platform = dict(
            session.execute(select(Source.platform, func.count()).group_by(Source.platform)).all()
        )
        citations = session.scalar(select(func.count()).select_from(Citation)) or 0
        preserved = session.scalar(
            select(func.count(func.distinct(Snapshot.source_id))).where(
                Snapshot.source_id.in_(preserved_ids)
            )
        )
        never_preserved = session.scalar(
            select(func.count())
            .select_from(Source)
            .where(Source.capture_attempts > 0, Source.id.not_in(preserved_ids))
        )
        report_rows = session.scalars(select(Report).order_by(Report.id.desc())).all()
        stamps = pending_summary(session)
        counts = dict(
            session.execute(
                select(Citation.report_id, func.count()).group_by(Citation.report_id)
            ).all()
        )
        states: dict[int, dict[str, int]] = {}
        for report_id, state, count in session.execute(
            select(Citation.report_id, Source.state, func.count())
            .join(Source, Source.id == Citation.source_id)
            .group_by(Citation.report_id, Source.state)
        ).all():
            states.setdefault(report_id, {})[state] = count
    summary = {
        "reports": len(report_rows),
        "citations": citations,
        "sources": sum(by_state.values()),
        "preserved": preserved or 0,
        "never_preserved": never_preserved or 0,
        "by_state": {state: by_state.get(state, 0) for state in STATES},
        "by_platform": dict(sorted(by_platform.items())),
        "timestamps": {k: iso(v) if isinstance(v, datetime) else v for k, v in stamps.items()},
    }
    reports = [
        {
            "id": r.id,
            "title": r.title,
            "sha256": r.sha256,
            "format": r.format,
            "origin": r.origin,
            "ingested_at": iso(r.ingested_at),
            "skipped_links": len((r.harvest_notes or {}).get("skipped", [])),
            "citations": counts.get(r.id, 0),
            "states": dict(sorted(states.get(r.id, {}).items())),
        }
        for r in report_rows
    ]
    return Overview(iso(clock()), summary, reports)


def source_view(db: Database, status: dict[str, Any], source_id: int) -> SourceView | None:
    source = next((s for s in status["sources"] if s["id"] == source_id), None)
    if source is None:
        return None
    titles = {r["id"]: r["title"] for r in status["reports"]}
    with db.session() as session:
        observations = session.scalars(
            select(Observation)
            .where(Observation.source_id == source_id)
            .order_by(Observation.observed_at, Observation.id)
        ).all()
        timeline = [
            {
                "at": o.observed_at,
                "via": o.via,
                "snapshot_id": o.snapshot_id,
                "http_status": o.http_status,
                "final_url": o.final_url,
                "failure": o.failure_kind,
                "implied_state": o.implied_state,
                "state": o.resulting_state,
                "reason": o.reason,
            }
            for o in observations
        ]
        page_titles = {
            snapshot_id: title
            for snapshot_id, title in session.execute(
                select(Snapshot.id, Snapshot.title).where(Snapshot.source_id == source_id)
            )
            if title
        }
    return SourceView(
        source,
        timeline,
        diffs=stored_diffs(db, source_id),
        reports={c["report_id"]: titles.get(c["report_id"]) for c in source["citations"]},
        page_titles=page_titles,
    )


def snapshot_row(db: Database, snapshot_id: str) -> Snapshot | None:
    with db.session() as session:
        return session.get(Snapshot, snapshot_id)


def stored_diffs(db: Database, source_id: int) -> list[dict[str, Any]]:
    """The diffs the re-check stored for this source against its baseline, oldest first,
    with the time of the observation each belongs to and the similarity. Empty diffs
    (nothing changed) and results of degraded runs (no evidence) are left out; a diff
    equal to the one before is counted (``seen``, ``last_at``), not repeated."""
    query = (
        select(CheckResult, Observation.observed_at)
        .join(Observation, Observation.id == CheckResult.observation_id)
        .where(CheckResult.source_id == source_id, CheckResult.degraded.is_(False))
        .order_by(Observation.observed_at, CheckResult.id)
    )
    found: list[dict[str, Any]] = []
    with db.session() as session:
        for result, observed_at in session.execute(query):
            if not result.diff:
                continue
            entry: dict[str, Any] = {"at": iso(observed_at), "diff": "\n".join(result.diff)}
            if result.similarity is not None:
                entry["similarity"] = result.similarity
            # Changed numbers, dates and names, quoted as written (archiver.check.figures).
            changes = (result.details or {}).get("changes")
            if changes:
                entry["changes"] = list(changes)
            previous = found[-1] if found else None
            if previous is not None and previous["diff"] == entry["diff"]:
                # The same difference, seen again: one entry, not one per check.
                previous["seen"] += 1
                previous["last_at"] = entry["at"]
                continue
            entry.update(seen=1, last_at=entry["at"])
            found.append(entry)
    return found
