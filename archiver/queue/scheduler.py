"""``archiver run`` on PostgreSQL: it decides what is due, workers do it.

APScheduler jobs on the daemon's loop, one run of each at a time:

- captures (every ``daemon.inbox_poll_interval``, and at once when a report brings
  new sources): one ``archiver.capture`` task per route and host partition with
  sources waiting (tasks of one partition run one after another: politeness per host
  holds across workers);
- re-checks (every ``check.tick``): one ``archiver.check`` task per host partition with
  sources due, one at a time per partition (as captures);
- stamps (every :data:`STAMP_EVERY` seconds) and notifications (``notify.batch_window``);
- stalled tasks (every ``daemon.worker_heartbeat``): a task whose worker has not
  been heard of for three heartbeats (``kill -9``, a lost machine) is handed back to
  the queue, procrastinate's stalled-job retry; its sources' claims expire on their
  own (``capture.lease``), so the retried task captures each source once.

Every task is deferred with a queueing lock (``capture:<route>:<partition>``,
``check:<partition>``, ``stamp``, ``notify``): while one waits, the same is not deferred
again, so periodic work never piles up however long the workers are busy or away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import procrastinate
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from archiver.app import Archive
from archiver.check.notify import channels
from archiver.queue import work
from archiver.queue.outage import connection_lost, one_line_database_errors
from archiver.queue.tasks import defer

log = logging.getLogger(__name__)

STAMP_EVERY = 60.0
# A worker silent for this many heartbeats is taken for dead.
STALLED_HEARTBEATS = 3


class QueueScheduler:
    def __init__(self, archive: Archive, app: procrastinate.App) -> None:
        self.archive = archive
        self.app = app
        self._scheduler: AsyncIOScheduler | None = None

    def start(self) -> None:
        settings = self.archive.settings
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        scheduler = self._scheduler = AsyncIOScheduler(timezone=UTC)
        now = datetime.now(UTC)

        def every(job: Callable[[], Awaitable[object]], seconds: float, name: str) -> None:
            scheduler.add_job(
                self._guarded(job, name),
                "interval",
                seconds=seconds,
                id=name,
                max_instances=1,
                coalesce=True,
                next_run_time=now,
            )

        daemon = settings.daemon
        if daemon.capture:
            every(self.defer_captures, daemon.inbox_poll_interval, "captures")
        if daemon.check:
            every(self.defer_checks, settings.check.tick, "checks")
            if channels(settings.notify):
                every(self.defer_notify, settings.notify.batch_window, "notify")
        every(self.defer_stamps, STAMP_EVERY, "stamps")
        every(self.retry_stalled, daemon.worker_heartbeat, "stalled")
        one_line_database_errors()
        scheduler.start()
        log.info("work handed to archiver worker processes (procrastinate on PostgreSQL)")

    def wake(self) -> None:
        """New sources may be waiting: look for captures now."""
        if self._scheduler is not None and self._scheduler.get_job("captures") is not None:
            self._scheduler.modify_job("captures", next_run_time=datetime.now(UTC))

    async def shutdown(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    @staticmethod
    def _guarded(job: Callable[[], Awaitable[object]], name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await job()
            except asyncio.CancelledError:  # the daemon stops: nothing to report
                log.debug("scheduling %s cancelled: stopping", name)
            except Exception as exc:  # the job boundary: the next tick tries again
                why = connection_lost(exc)
                if why is None:
                    log.exception("scheduling %s failed", name)
                else:  # PostgreSQL restarted: one line, the next pass reconnects
                    log.error(
                        "scheduling %s failed: the database connection failed (%s)", name, why
                    )

        return run

    # -- the jobs ------------------------------------------------------------------------

    async def defer_captures(self) -> int:
        """Capture tasks for the sources waiting; how many were deferred."""
        waiting = await asyncio.to_thread(work.due_captures_by_partition, self.archive)
        deferred = 0
        for route, part in sorted(waiting):
            deferred += await defer(
                self.app,
                "archiver.capture",
                lock=f"capture:{route}:{part}",
                one_at_a_time=f"hosts:{route}:{part}",
                queue=route,
                route=route,
                part=part,
            )
        if deferred:
            log.debug("deferred %d capture tasks (%d sources waiting)", deferred, waiting.total())
        return deferred

    async def defer_checks(self) -> int:
        """Re-check tasks for the partitions with sources due; how many were deferred."""
        size = self.archive.settings.check.batch_size
        waiting = await asyncio.to_thread(
            work.due_checks_by_partition, self.archive, limit=size * work.PARTITIONS
        )
        deferred = 0
        for part in sorted(waiting):
            deferred += await defer(
                self.app,
                "archiver.check",
                lock=f"check:{part}",
                one_at_a_time=f"checks:{part}",
                queue="check",
                part=part,
            )
        return deferred

    async def defer_stamps(self) -> bool:
        return await defer(self.app, "archiver.stamp", lock="stamp", queue="stamp")

    async def defer_notify(self) -> bool:
        return await defer(self.app, "archiver.notify", lock="notify", queue="check")

    async def retry_stalled(self) -> int:
        """Hand the tasks of dead workers back to the queue; how many."""
        silent = self.archive.settings.daemon.worker_heartbeat * STALLED_HEARTBEATS
        manager = self.app.job_manager
        retried = 0
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=silent):
            try:
                await manager.retry_job(job)
                retried += 1
                how = "handed back to the queue"
            except procrastinate.exceptions.UniqueViolation:
                # The same task already waits (its queueing lock), and a task chooses
                # its sources when it runs: that one does this one's work.
                await manager.finish_job(
                    job, status=procrastinate.jobs.Status.FAILED, delete_job=True
                )
                how = "handed back to the queue (to the same task, already waiting)"
            log.warning(
                "task %s (job %s) of a worker silent for %g s %s",
                job.task_name,
                job.id,
                silent,
                how,
            )
        await manager.prune_stalled_workers(silent)
        return retried
