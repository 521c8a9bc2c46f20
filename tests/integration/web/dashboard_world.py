"""Report 001 with sources in every situation the dashboard filters on: dead (one with an
earlier preserved snapshot), tried and never preserved, suspected, incomplete, and a page
title found by search. Rows are written directly, as recording captures and checks does;
the expectations are then read from the status document, the truth the pages show."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from archiver.models import Observation, Snapshot, Source
from tests.conftest import FixedClock
from tests.integration.web.conftest import WebWorld

TITLE = "Уникальный заголовок страницы"


@dataclass
class Seeded:
    # label -> source id
    ids: dict[str, int]
    status: dict[str, Any]

    def footnotes(self, keep: set[int]) -> list[tuple[str | None, int]]:
        """(marker, source id) of report 1's citations whose source is in ``keep``."""
        return [
            (c["marker"], c["source_id"])
            for c in self.status["reports"][0]["citations"]
            if c["source_id"] in keep
        ]

    def sources_where(self, test: Any) -> set[int]:
        return {s["id"] for s in self.status["sources"] if test(s)}

    def incomplete(self) -> set[int]:
        def lacks(source: dict[str, Any]) -> bool:
            latest = next(
                (s for s in source["snapshots"] if s["id"] == source["latest_snapshot"]), None
            )
            return bool(latest and latest["incomplete"])

        return self.sources_where(lacks)


def _snapshot(
    session: Any,
    source_id: int,
    at: datetime,
    *,
    http_status: int | None = 200,
    failure: str | None = None,
    incomplete: list[dict[str, str]] | None = None,
    title: str | None = None,
    final_url: str | None = None,
) -> str:
    snapshot_id = str(uuid.uuid4())
    session.add(
        Snapshot(
            id=snapshot_id,
            source_id=source_id,
            started_at=at,
            finished_at=at + timedelta(seconds=1),
            methods=["http"],
            warc_path=f"warcs/seeded/{snapshot_id}.warc.gz",
            warc_sha256="0" * 64,
            warc_size=1,
            http_status=http_status,
            final_url=final_url,
            redirect_chain=[],
            title=title,
            failure_kind=failure,
            truncated=False,
            artefacts=[],
            records=1,
            incomplete=[] if incomplete is None else incomplete,
        )
    )
    session.flush()
    return snapshot_id


def _observe(
    session: Any,
    source_id: int,
    at: datetime,
    *,
    via: str,
    implied: str,
    resulting: str,
    reason: str,
    http_status: int | None = None,
    failure: str | None = None,
    final_url: str | None = None,
    snapshot_id: str | None = None,
) -> None:
    session.add(
        Observation(
            source_id=source_id,
            observed_at=at,
            via=via,
            snapshot_id=snapshot_id,
            http_status=http_status,
            final_url=final_url,
            failure_kind=failure,
            implied_state=implied,
            resulting_state=resulting,
            reason=reason,
        )
    )
    source = session.get(Source, source_id)
    source.state = resulting
    source.last_checked_at = at
    if via == "capture":
        source.capture_attempts += 1
    session.flush()


def seed(world: WebWorld, clock: FixedClock) -> Seeded:
    """Sources 2..8 of report 001 (by id order) get the situations; the first one
    holds the world's real snapshot (preserved, live, lacking dom and pdf)."""
    sources = world.archive.status()["sources"]
    labels = ["dead_then_now", "dead", "dead_too", "failed_dns", "failed_timeout",
              "suspected", "incomplete"]  # fmt: skip
    ids = {label: sources[i + 1]["id"] for i, label in enumerate(labels)}
    day0 = clock()
    day1 = day0 + timedelta(days=1)
    day2 = day0 + timedelta(days=2)
    with world.archive.db.session() as session:
        urls = {sid: session.get(Source, sid).url for sid in ids.values()}

        # Preserved on day 0, gone (404, confirmed) on day 1.
        sid = ids["dead_then_now"]
        snap = _snapshot(session, sid, day0, title="Суд над активистом", final_url=urls[sid])
        _observe(session, sid, day0, via="capture", implied="live", resulting="live",
                 reason="HTTP 200", http_status=200, final_url=urls[sid], snapshot_id=snap)  # fmt: skip
        for label in ("dead_then_now", "dead", "dead_too"):
            _observe(session, ids[label], day1, via="check", implied="dead", resulting="dead",
                     reason="HTTP 404, confirmed", http_status=404,
                     final_url=urls[ids[label]] + "?gone=1")  # fmt: skip

        # Tried and never preserved: the name does not resolve (suspected dead, too) ...
        sid = ids["failed_dns"]
        snap = _snapshot(session, sid, day1, http_status=None, failure="dns")
        _observe(session, sid, day1, via="capture", implied="dead", resulting="pending",
                 reason="the host name does not resolve", failure="dns", snapshot_id=snap)  # fmt: skip
        # ... or the capture timed out (unreachable, no accusation).
        sid = ids["failed_timeout"]
        snap = _snapshot(session, sid, day1, http_status=None, failure="timeout")
        _observe(session, sid, day1, via="capture", implied="unreachable",
                 resulting="unreachable", reason="timed out", failure="timeout",
                 snapshot_id=snap)  # fmt: skip

        # Preserved and live; one check says removed, waiting for its confirmation.
        sid = ids["suspected"]
        snap = _snapshot(session, sid, day0, final_url=urls[sid])
        _observe(session, sid, day0, via="capture", implied="live", resulting="live",
                 reason="HTTP 200", http_status=200, snapshot_id=snap)  # fmt: skip
        _observe(session, sid, day2, via="check", implied="removed", resulting="live",
                 reason="the platform says the content is not available", http_status=200)  # fmt: skip

        # Preserved without its video; its page title is what search finds.
        sid = ids["incomplete"]
        missing = [{"artefact": "video", "reason": "HTTP Error 403: Forbidden"}]
        snap = _snapshot(session, sid, day2, incomplete=missing, title=TITLE)
        _observe(session, sid, day2, via="capture", implied="live", resulting="live",
                 reason="HTTP 200", http_status=200, snapshot_id=snap)  # fmt: skip
        session.commit()
    clock.advance(days=2)  # today is day 2: the charts' last day
    return Seeded(ids, world.archive.status())


def state_changes(world: WebWorld) -> dict[str, int]:
    """Day -> observations whose resulting state differs from the one before (a source
    starts pending), counted here the slow way."""
    from sqlalchemy import select

    changes: dict[str, int] = {}
    with world.archive.db.session() as session:
        rows = session.scalars(select(Observation).order_by(Observation.id)).all()
        before: dict[int, str] = {}
        for row in rows:
            if row.resulting_state != before.get(row.source_id, "pending"):
                day = row.observed_at.date().isoformat()
                changes[day] = changes.get(day, 0) + 1
            before[row.source_id] = row.resulting_state
    return changes
