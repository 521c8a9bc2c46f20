"""The procrastinate side: the app on the archive's PostgreSQL database, its schema, and
the tasks ``archiver worker`` runs (each calls :mod:`archiver.queue.work`).

Tasks (queue in brackets):

- ``archiver.capture`` [capture or browser]: one capture batch of the route in one
  host partition (:func:`archiver.queue.work.partition`); the tasks of a partition run
  one at a time, so a host's politeness holds across workers;
- ``archiver.check`` [check]: one re-check batch (``check.batch_size``) of one host
  partition, one at a time per partition as captures;
- ``archiver.notify`` [check]: send the operator's notifications;
- ``archiver.stamp`` [stamp]: custody heads and RFC 3161 timestamps.

A task chooses its sources when it runs, not when it is deferred: the scheduler only
says how many tasks the due work is worth (:mod:`archiver.queue.scheduler`), and each
task claims what is due then (:mod:`archiver.store.leases`), so two workers never take
the same source, and a task retried after its worker died takes what is still due.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url

from archiver.config import Settings
from archiver.errors import QueueError
from archiver.queue import work
from archiver.store.db import Database

if TYPE_CHECKING:
    from archiver.app import Archive

log = logging.getLogger(__name__)

RUNTIME = "archiver"  # the key of :class:`Runtime` in a job's additional context
# A capture task takes batch after batch of its partition for about this long at most
# (then the next task of the partition, deferred meanwhile, goes on).
TASK_BUDGET = 60.0
# Serialises the creation of procrastinate's tables by processes starting together.
_SCHEMA_LOCK = 0x61726368  # "arch"
# The queues each worker takes (procrastinate_workers records only an id and a
# heartbeat): one row per ``archiver worker``, gone with procrastinate's row when the
# worker stops or is pruned as stalled. Beside procrastinate's tables, not in the
# archive's migrations: it refers to procrastinate_workers, which exists on PostgreSQL
# only and only once this schema is set up.
WORKER_QUEUES_TABLE = """
CREATE TABLE IF NOT EXISTS archiver_worker_queues (
    worker_id bigint PRIMARY KEY REFERENCES procrastinate_workers(id) ON DELETE CASCADE,
    name text NOT NULL,
    queues text[] NOT NULL
)
"""


@dataclass
class Runtime:
    """What a worker's tasks share: the archive and whether the worker is stopping."""

    archive: Archive
    should_stop: Callable[[], bool]


def conninfo(settings: Settings) -> str:
    """The libpq URL of ``storage.database_url`` (a SQLAlchemy URL)."""
    url = make_url(settings.storage.resolved_database_url())
    if url.get_backend_name() != "postgresql":
        raise QueueError("the work queue needs PostgreSQL (storage.database_url)")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_schema(db: Database) -> bool:
    """Create procrastinate's tables in the archive's database unless they exist
    (under an advisory lock: ``archiver run`` and workers may start together); whether
    they were created now."""
    schema = SchemaManager.get_schema()
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
        cursor.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        row = cursor.fetchone()
        created = not (row and row[0])
        if created:
            cursor.execute(schema)
            log.info("work queue tables created (procrastinate %s)", procrastinate.__version__)
        cursor.execute(WORKER_QUEUES_TABLE)
        raw.commit()
        return created
    except Exception as exc:
        raw.rollback()
        raise QueueError(f"cannot set up the work queue's tables: {exc}") from exc
    finally:
        raw.close()


def build_app(settings: Settings) -> procrastinate.App:
    """The procrastinate app of these settings, with the archiver's tasks."""
    connector = procrastinate.PsycopgConnector(conninfo=conninfo(settings), min_size=1, max_size=4)
    app = procrastinate.App(connector=connector)
    app.task(name="archiver.capture", queue="capture", pass_context=True)(capture_task)
    app.task(name="archiver.check", queue="check", pass_context=True)(check_task)
    app.task(name="archiver.notify", queue="check", pass_context=True)(notify_task)
    app.task(name="archiver.stamp", queue="stamp", pass_context=True)(stamp_task)
    return app


async def defer(
    app: procrastinate.App,
    task: str,
    *,
    lock: str,
    queue: str,
    one_at_a_time: str | None = None,
    **kwargs: Any,
) -> bool:
    """Defer ``task`` unless one with the queueing ``lock`` already waits; whether it
    was deferred. Tasks with the same ``one_at_a_time`` (procrastinate's lock) run one
    after another."""
    deferrer = app.tasks[task].configure(queueing_lock=lock, queue=queue, lock=one_at_a_time)
    try:
        await deferrer.defer_async(**kwargs)
    except AlreadyEnqueued:
        return False
    return True


def _runtime(context: procrastinate.JobContext) -> Runtime:
    runtime = context.additional_context[RUNTIME]
    assert isinstance(runtime, Runtime)
    return runtime


async def capture_task(context: procrastinate.JobContext, route: str, part: int) -> int:
    """One capture batch of ``route`` in host partition ``part``; how many sources were
    captured."""
    runtime = _runtime(context)
    archive = runtime.archive
    runner = archive.capture_runner(actor="worker")
    # Batch after batch while the partition has sources waiting, for up to TASK_BUDGET:
    # no wait for the scheduler's next tick between batches of a large partition.
    ends = time.monotonic() + TASK_BUDGET
    done = 0
    while not runtime.should_stop() and time.monotonic() < ends:
        outcomes = await work.capture_batch(
            archive,
            runner,
            limit=work.capture_batch_size(archive.settings, route),
            route=route,
            part=part,
            should_stop=runtime.should_stop,
        )
        if not outcomes:
            break
        done += len(outcomes)
    return done


async def check_task(context: procrastinate.JobContext, part: int) -> int:
    """One re-check batch of host partition ``part``; how many sources were checked."""
    runtime = _runtime(context)
    archive = runtime.archive
    reports = await work.check_batch(
        archive.check_runner(actor="worker"),
        limit=archive.settings.check.batch_size,
        trigger="worker",
        part=part,
        should_stop=runtime.should_stop,
    )
    return sum(len(r.outcomes) for r in reports)


async def stamp_task(context: procrastinate.JobContext) -> int:
    """Custody heads and due timestamps; how many stamps were got."""
    runtime = _runtime(context)
    summary = await asyncio.to_thread(work.stamp_pass, runtime.archive, runtime.should_stop)
    return summary.granted


async def notify_task(context: procrastinate.JobContext) -> None:
    runtime = _runtime(context)
    await work.notify_pass(runtime.archive, runtime.should_stop)
