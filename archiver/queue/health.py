"""The work queue's state, for /healthz and /metrics: tasks per queue and state, and
the workers alive, per queue and in all (read from procrastinate's tables in the
archive's database, and the queues each ``archiver worker`` recorded beside them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from archiver.config import Settings
from archiver.queue import QUEUES, uses_procrastinate
from archiver.queue.scheduler import STALLED_HEARTBEATS
from archiver.store.db import Database

STATES = ("todo", "doing", "failed")


def queue_health(db: Database, settings: Settings) -> dict[str, Any] | None:
    """``{"queues": {queue: {"todo", "doing", "failed", "oldest_todo_seconds",
    "workers", "workers_silent"}}, "workers": n, "workers_silent": n}``; None when this
    archive runs its work in-process (SQLite), and ``{"error": ...}`` before the queue's
    tables exist.

    A worker counts for each queue it takes; one whose queues are not recorded (not
    yet, or not an ``archiver worker``) for every queue. Silent: no heartbeat within
    three (the scheduler hands its tasks back to the queue)."""
    if not uses_procrastinate(settings):
        return None
    alive_within = settings.daemon.worker_heartbeat * STALLED_HEARTBEATS
    queues: dict[str, dict[str, Any]] = {name: _empty() for name in QUEUES}
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
            queues.setdefault(queue, _empty())
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
        for queue, alive, silent in _workers_per_queue(connection, alive_within):
            counts = queues.setdefault(queue, _empty())
            counts["workers"], counts["workers_silent"] = alive, silent
    return {
        "queues": queues,
        "workers": int(workers[0]),
        "workers_silent": int(workers[1] - workers[0]),
    }


def _empty() -> dict[str, Any]:
    return {
        **dict.fromkeys(STATES, 0),
        "oldest_todo_seconds": None,
        "workers": 0,
        "workers_silent": 0,
    }


def _workers_per_queue(connection: Connection, alive_within: float) -> list[tuple[str, int, int]]:
    """``(queue, alive, silent)`` rows: each worker under each queue it takes."""
    recorded = connection.execute(
        text("SELECT to_regclass('archiver_worker_queues') IS NOT NULL")
    ).scalar()
    # Before any worker of this version set the table up, nobody's queues are known.
    taken = "w.queues" if recorded else "NULL::text[]"
    joined = "LEFT JOIN archiver_worker_queues w ON w.worker_id = p.id" if recorded else ""
    rows = connection.execute(
        text(
            "SELECT q.queue, "
            "count(*) FILTER (WHERE p.last_heartbeat >= now() - make_interval(secs => :alive)), "
            "count(*) FILTER (WHERE p.last_heartbeat < now() - make_interval(secs => :alive)) "
            f"FROM procrastinate_workers p {joined} "
            f"CROSS JOIN LATERAL unnest(coalesce({taken}, CAST(:all AS text[]))) AS q(queue) "
            "GROUP BY q.queue"
        ),
        {"alive": alive_within, "all": list(QUEUES)},
    )
    return [(str(queue), int(alive), int(silent)) for queue, alive, silent in rows]
