"""Captures that failed for the archiver's own reasons, for /healthz and /metrics.

A source's capture can fail because of the site (recorded as its state) or because of
the archiver: a full disk on whichever machine captured it, a bucket refusing writes or
credentials, a bug. Those are recorded as observations of kind ``internal`` with the
reason ("internal error: disk full: ..."), on the source; this says how many there were
lately and the last one, so an operator watching health sees them whichever worker
had them (workers share the database, not their logs).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from archiver.models import Observation
from archiver.store.db import Database

# How far back /healthz looks.
RECENT = timedelta(hours=1)
INTERNAL = "internal"


def capture_health(db: Database, clock: Callable[[], datetime]) -> dict[str, Any]:
    """``{"own_failures_last_hour": n, "last_own_failure": {...} or None}``."""
    since = clock() - RECENT
    ours = (Observation.via == "capture") & (Observation.failure_kind == INTERNAL)
    with db.session() as session:
        recent = session.scalar(
            select(func.count())
            .select_from(Observation)
            .where(ours, Observation.observed_at >= since)
        )
        last = session.scalars(
            select(Observation).where(ours).order_by(Observation.observed_at.desc()).limit(1)
        ).first()
        shown = (
            None
            if last is None
            else {
                "at": last.observed_at.isoformat().replace("+00:00", "Z"),
                "source_id": last.source_id,
                "reason": last.reason,
            }
        )
    return {"own_failures_last_hour": int(recent or 0), "last_own_failure": shown}


def own_failures_total(db: Database) -> int:
    """Every capture that failed for the archiver's own reasons, ever (a counter)."""
    with db.session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(Observation)
            .where(Observation.via == "capture", Observation.failure_kind == INTERNAL)
        )
    return int(count or 0)
