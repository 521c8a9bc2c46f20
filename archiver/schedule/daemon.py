"""``archiver run``: the long-running service.

Everything shares one asyncio event loop: report intake from the inbox folder and the
capture of every source not yet preserved (two loops), and, under APScheduler, the
re-check of due sources (``check.tick``) and the sending of notifications
(``notify.batch_window``). Blocking work (harvest, database writes) runs in threads.

That is the in-process dispatcher (SQLite, the default). On PostgreSQL (``daemon.queue``)
the same work is done by ``archiver worker`` processes: this process then only decides
what is due and defers procrastinate tasks (:mod:`archiver.queue.scheduler`), besides
its inbox, feeds, web pages and look-ups in web archives. The work is the same
functions either way (:mod:`archiver.queue.work`).

SIGTERM and SIGINT stop it within :data:`STOP_WITHIN` seconds, with status 0, whatever
is in flight (``docker stop`` kills after 10 s): no new work starts; captures, checks,
timestamp requests and notifications in flight are abandoned (a WARC file not yet
complete is given up, its temporary file removed; nothing abandoned is recorded, so it
is done again after the restart, and this process's claims on sources are released);
the report in hand is finished (its transaction is all-or-nothing); web requests get
at most :data:`WEB_GRACE` seconds. Whatever cannot be interrupted (a thread in a C call,
yt-dlp) is left behind: the process exits at the deadline all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from archiver.app import Archive
from archiver.bounded import exit_after
from archiver.errors import ArchiverError
from archiver.harvest.inbox import process_inbox
from archiver.queue import uses_procrastinate
from archiver.queue.work import capture_batch, stamp_pass
from archiver.schedule.checks import CheckScheduler
from archiver.store.leases import release_this_process

if TYPE_CHECKING:
    from archiver.queue.scheduler import QueueScheduler

log = logging.getLogger(__name__)

# From SIGTERM or SIGINT to the exit, at most (below the 10 s of docker stop), the
# releasing of claims included (archiver.bounded.LAST_WORDS).
STOP_WITHIN = 7.5
# Of which web requests in flight get at most this (web.shutdown_timeout, capped).
WEB_GRACE = 5.0
# Sources looked up in web archives per idle pass of the capture loop.
WITNESS_BATCH = 10


class Daemon:
    def __init__(self, archive: Archive, *, capture: bool = True, check: bool = True) -> None:
        self.archive = archive
        self.capture_enabled = capture
        self.check_enabled = check
        self._stop = asyncio.Event()
        # Set whenever new sources may be waiting, so capture starts without delay.
        self._work = asyncio.Event()

    def request_stop(self, reason: str = "") -> None:
        if not self._stop.is_set():
            log.info("stopping%s", f" ({reason})" if reason else "")
            self._stop.set()
            self._work.set()

    def _on_signal(self, name: str) -> None:
        if not self._stop.is_set():
            # The last resort, should something not stop in time: this process's claims
            # on sources are released on the way out all the same.
            release = functools.partial(release_this_process, self.archive.db)
            exit_after(STOP_WITHIN, f"archiver run ({name})", last=release)
        self.request_stop(name)

    async def _pause(self, event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=seconds)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig.name)
        settings = self.archive.settings
        log.info(
            "archiver daemon started: storage %s, database %s, inbox %s",
            settings.storage.root.resolve(),
            "sqlite" if not settings.storage.database_url else "external",
            settings.inbox_dir.resolve(),
        )
        try:
            if uses_procrastinate(settings):
                await self._run_with_queue()
            else:
                await self._run_in_process()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        log.info("archiver daemon stopped")

    async def _run_in_process(self) -> None:
        checks = CheckScheduler(self.archive, should_stop=self._stop.is_set)
        try:
            # Web pages and report feeds first: an exposed server without tokens is
            # refused before anything else has started.
            tasks = web_and_feed_tasks(self.archive, self._stop, self._work)
            tasks.append(asyncio.create_task(self._inbox_loop()))
            if self.capture_enabled:
                tasks.append(asyncio.create_task(self._capture_loop()))
            if self.check_enabled:
                checks.start()
            await self._all_or_stop(tasks)
        finally:
            await checks.shutdown()

    async def _run_with_queue(self) -> None:
        """Captures, checks, stamps and notifications as procrastinate tasks."""
        from archiver.queue.scheduler import QueueScheduler
        from archiver.queue.tasks import build_app, ensure_schema

        await asyncio.to_thread(ensure_schema, self.archive.db)
        app = build_app(self.archive.settings)
        async with app.open_async():
            scheduler = QueueScheduler(self.archive, app)
            try:
                tasks = web_and_feed_tasks(self.archive, self._stop, self._work)
                tasks.append(asyncio.create_task(self._inbox_loop()))
                scheduler.start()
                tasks.append(asyncio.create_task(self._queue_loop(scheduler)))
                await self._all_or_stop(tasks)
            finally:
                await scheduler.shutdown()

    async def _all_or_stop(self, tasks: list[asyncio.Task[None]]) -> None:
        """Run the daemon's tasks; when one fails (e.g. the web port is taken), stop the
        others the graceful way, so no work is cut off half-written, then report it."""
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            self.request_stop("a daemon task failed")
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _queue_loop(self, scheduler: QueueScheduler) -> None:
        """New sources: captures scheduled at once; between, the web archives' passes."""
        interval = self.archive.settings.daemon.inbox_poll_interval
        while not self._stop.is_set():
            self._work.clear()
            scheduler.wake()
            await self._save_page_now_pass()
            if await self._witness_pass():
                continue
            await self._pause(self._work, interval * 6)

    async def _inbox_loop(self) -> None:
        interval = self.archive.settings.daemon.inbox_poll_interval
        while not self._stop.is_set():
            added = await asyncio.to_thread(self._inbox_pass)
            if added:
                self._work.set()
            await self._pause(self._stop, interval)

    def _inbox_pass(self) -> int:
        inbox: Path = self.archive.settings.inbox_dir
        inbox.mkdir(parents=True, exist_ok=True)
        results = process_inbox(
            inbox,
            lambda path, origin: self.archive.add_file(path, origin=origin, actor="inbox"),
            self.archive.clock,
            should_stop=self._stop.is_set,
        )
        return sum(1 for r in results if r.outcome is not None and r.outcome.new_sources)

    async def _capture_loop(self) -> None:
        runner = self.archive.capture_runner()
        settings = self.archive.settings
        batch = settings.capture.concurrency * 4
        while not self._stop.is_set():
            self._work.clear()
            # Stamps and custody heads; a request in flight is abandoned on stopping.
            await asyncio.to_thread(stamp_pass, self.archive, self._stop.is_set)
            # Claimed (archiver.store.leases): another runner's sources are left to it.
            outcomes = await capture_batch(
                self.archive, runner, limit=batch, should_stop=self._stop.is_set
            )
            if outcomes:
                # An independent witness of what we just preserved (Save Page Now).
                await self._save_page_now_pass()
                continue
            # Nothing due: earlier copies of sources we could not preserve (issue 18),
            # a few at a time, then wait for new sources or for retry times to come.
            if await self._witness_pass():
                continue
            await self._pause(self._work, settings.daemon.inbox_poll_interval * 6)

    async def _save_page_now_pass(self) -> None:
        """Ask Save Page Now for what is due; never lets a failure stop capturing."""
        spn = self.archive.save_page_now
        if not spn.active:
            return
        try:
            done = await spn.run_due(should_stop=self._stop.is_set)
        except ArchiverError as exc:
            log.warning("Save Page Now not asked: %s", exc)
            return
        if done.asked:
            log.info("Save Page Now: %d asked, %d captured, %d given up", done.asked, done.done,
                     done.failed)  # fmt: skip

    async def _witness_pass(self) -> int:
        """Look up earlier copies for up to :data:`WITNESS_BATCH` sources; how many."""
        try:
            outcomes = await self.archive.witnesses.look_up_due(
                WITNESS_BATCH, should_stop=self._stop.is_set
            )
        except ArchiverError as exc:
            log.warning("earlier copies not looked up: %s", exc)
            return 0
        found = sum(1 for o in outcomes if o.outcome == "found")
        if outcomes:
            log.info("looked up %d sources in web archives: %d copies kept", len(outcomes), found)
        return len(outcomes)


def run_daemon(archive: Archive) -> None:
    daemon = archive.settings.daemon
    asyncio.run(Daemon(archive, capture=daemon.capture, check=daemon.check).run())


# --- Web pages and report feeds (issue 7) ---------------------------------------------


def web_and_feed_tasks(
    archive: Archive, stop: asyncio.Event, work: asyncio.Event
) -> list[asyncio.Task[None]]:
    """The web server (``archiver.web.serve``) and the report-feed poller, both ending
    when ``stop`` is set. Raises ConfigError before starting anything when the web
    server would be exposed without any token."""
    from archiver.harvest.feeds import feed_loop
    from archiver.schedule.telling import tell_loop

    tasks = [asyncio.create_task(feed_loop(archive, stop, work.set))]
    # Each report's progress, degraded runs and timestamp trouble, in plain words.
    tasks.append(asyncio.create_task(tell_loop(archive, stop)))
    if archive.settings.web.enabled:
        from archiver.web import serve
        from archiver.web.server import check_exposure

        check_exposure(archive, archive.settings)
        serving = serve(archive, archive.settings, stop=stop, grace=WEB_GRACE)
        tasks.append(asyncio.create_task(serving))
    return tasks
