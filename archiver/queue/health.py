"""The work queue's state, for /healthz and /metrics: tasks per queue and state, and
the workers alive (read from procrastinate's tables in the archive's database)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from archiver.config import Settings
from archiver.queue import QUEUES, uses_procrastinate
from archiver.queue.scheduler import STALLED_HEARTBEATS
from archiver.store.db import Database

STATES = ("todo", "doing", "failed")


def queue_health(db: Database, settings: Settings) -> dict[str, Any] | None:
    """``{"queues": {queue: {"todo", "doing", "failed", "oldest_todo_seconds"}},
    "workers": n, "workers_silent": n}``; None when this archive runs its work
    in-process (SQLite), and ``{"error": ...}`` before the queue's tables exist."""
    if not uses_procrastinate(settings):
        return None
    alive_within = settings.daemon.worker_heartbeat * STALLED_HEARTBEATS
    queues: dict[str, dict[str, Any]] = {
        name: {**dict.fromkeys(STATES, 0), "oldest_todo_seconds": None} for name in QUEUES
    }
    with db.engine.connect() as connection:
        if connection.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
            return {"error": "the work queue's tables do not exist yet (start archiver run)"}
        rows = connection.execute(
            text(
                "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs "
                "WHERE status IN ('todo', 'doing', 'failed') GROUP BY queue_name, status"
            )
        )
        for queue, status, count in rows:
            queues.setdefault(queue, {**dict.fromkeys(STATES, 0), "oldest_todo_seconds": None})
            queues[queue][status] = int(count)
        # How long the oldest waiting task has waited: the queue's latency, as it grows.
        oldest = connection.execute(
            text(
                "SELECT j.queue_name, extract(epoch FROM now() - min(e.at)) "
                "FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id "
                "WHERE j.status = 'todo' AND e.type = 'deferred' GROUP BY j.queue_name"
            )
        )
        for queue, seconds in oldest:
            if queue in queues and seconds is not None:
                queues[queue]["oldest_todo_seconds"] = round(float(seconds), 1)
        workers = connection.execute(
            text(
                "SELECT count(*) FILTER (WHERE last_heartbeat >= now() - make_interval("
                "secs => :alive)), count(*) FROM procrastinate_workers"
            ),
            {"alive": alive_within},
        ).one()
    return {
        "queues": queues,
        "workers": int(workers[0]),
        "workers_silent": int(workers[1] - workers[0]),
    }
