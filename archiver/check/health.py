"""How the re-checks are doing, for the pages and /healthz: the last run, and the runs
that were degraded (our own network was down: no source changed state), with when, why
and how many sources they left untouched. Read from ``check_runs``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from archiver.models import CheckRun
from archiver.store.db import Database

# Degraded runs listed on the front page, and how far back.
RECENT_DEGRADED = 10
RECENT_WINDOW = timedelta(days=7)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _run(run: CheckRun) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "trigger": run.trigger,
        "checked": run.checked,
        "changed": run.changed,
        "degraded": run.degraded,
        "reason": run.degraded_reason,
        # A degraded run changed no state: every source it checked was left as it was.
        "untouched": run.checked if run.degraded else 0,
    }


def check_health(db: Database, clock: Callable[[], datetime]) -> dict[str, Any]:
    """``last_run``: the last finished check run (None before the first);
    ``last_run_degraded``; ``last_degraded_run``; ``degraded_runs_24h``; and
    ``recent_degraded``: up to RECENT_DEGRADED degraded runs of the last 7 days,
    newest first."""
    now = clock()
    finished = CheckRun.finished_at.is_not(None)
    with db.session() as session:
        last = session.scalars(
            select(CheckRun).where(finished).order_by(CheckRun.id.desc())
        ).first()
        recent = session.scalars(
            select(CheckRun)
            .where(
                finished, CheckRun.degraded.is_(True), CheckRun.started_at >= now - RECENT_WINDOW
            )
            .order_by(CheckRun.id.desc())
            .limit(RECENT_DEGRADED)
        ).all()
        latest_degraded = recent[0] if recent else None
        if latest_degraded is None:
            latest_degraded = session.scalars(
                select(CheckRun)
                .where(finished, CheckRun.degraded.is_(True))
                .order_by(CheckRun.id.desc())
            ).first()
        last_day = session.scalar(
            select(func.count())
            .select_from(CheckRun)
            .where(CheckRun.degraded.is_(True), CheckRun.started_at >= now - timedelta(hours=24))
        )
        return {
            "last_run": None if last is None else _run(last),
            "last_run_degraded": bool(last is not None and last.degraded),
            "last_degraded_run": None if latest_degraded is None else _run(latest_degraded),
            "degraded_runs_24h": last_day or 0,
            "recent_degraded": [_run(r) for r in recent],
        }
