"""Re-checks inside ``archiver run``, scheduled with APScheduler on the daemon's loop.

Every ``check.tick`` seconds (with a little jitter) the check job takes the due
sources, a batch of ``check.batch_size`` at a time, and checks them with bounded
concurrency until nothing is due; one run of the job at a time (a tick that comes while
a pass is still busy is skipped, not queued). Each source's next check time is set by
its own check (adaptive intervals, back-off, jitter: :mod:`archiver.schedule.intervals`),
so due work trickles in continuously instead of in bursts. A second job sends the
operator's notifications every ``notify.batch_window``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from archiver.app import Archive
from archiver.check.abandoned import close_abandoned_runs
from archiver.check.notify import channels
from archiver.queue.work import check_batch, notify_pass

log = logging.getLogger(__name__)


class CheckScheduler:
    def __init__(self, archive: Archive, *, should_stop: Callable[[], bool]) -> None:
        self.archive = archive
        self.should_stop = should_stop
        self._scheduler: AsyncIOScheduler | None = None
        self._running: asyncio.Task[None] | None = None
        self.passes = 0

    def start(self) -> None:
        settings = self.archive.settings
        # APScheduler logs every job run at INFO: one line per tick is noise.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        scheduler = self._scheduler = AsyncIOScheduler(timezone=UTC)
        tick = settings.check.tick
        scheduler.add_job(
            self._check_job,
            "interval",
            seconds=tick,
            jitter=max(0.0, tick * settings.check.jitter),
            id="checks",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        if channels(settings.notify):
            scheduler.add_job(
                self._notify_job,
                "interval",
                seconds=settings.notify.batch_window,
                id="notify",
                max_instances=1,
                coalesce=True,
            )
        scheduler.start()
        log.info("re-checks scheduled every %.0f s", tick)

    async def shutdown(self) -> None:
        scheduler = self._scheduler if self._scheduler and self._scheduler.running else None
        if scheduler is not None:
            scheduler.pause()  # no new pass starts
        # Let a pass in flight end by itself (it watches should_stop) before the
        # scheduler goes: its executor cancels what is still running, mid-check.
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)
        if scheduler is not None:
            scheduler.shutdown(wait=False)

    async def _check_job(self) -> None:
        self._running = asyncio.current_task()
        try:
            await self.check_pass()
        except Exception:  # the job boundary: log it, the next tick tries again
            log.exception("re-check pass failed")

    async def check_pass(self) -> int:
        """Check due sources until none is due (or the daemon stops); returns how many."""
        settings = self.archive.settings
        runner = self.archive.check_runner(actor="daemon")
        # Runs a dead process left unfinished are closed even when nothing is due.
        await asyncio.to_thread(close_abandoned_runs, self.archive.db, self.archive.clock())
        done = 0
        while not self.should_stop():
            reports = await check_batch(
                runner,
                limit=settings.check.batch_size,
                trigger="daemon",
                should_stop=self.should_stop,
            )
            if not reports:
                break  # nothing due, stopping, or another runner took them all meanwhile
            done += sum(len(r.outcomes) for r in reports)
            if any(r.degraded for r in reports):
                break  # our network is down: wait for the next tick
        self.passes += 1
        return done

    async def _notify_job(self) -> None:
        try:
            await notify_pass(self.archive, self.should_stop)
        except Exception:  # the job boundary: the outbox keeps the events
            log.exception("sending notifications failed")
