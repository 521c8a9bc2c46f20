"""``archiver run``: the long-running service.

For now it takes in reports dropped into the inbox folder. The loop is asyncio so later
workers (capture, check, the web server) join it as tasks; blocking work runs in a
thread. SIGTERM and SIGINT stop it cleanly: the file being processed is finished (its
database transaction is all-or-nothing anyway) and no new work starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from archiver.app import Archive
from archiver.harvest.inbox import process_inbox

log = logging.getLogger(__name__)


class Daemon:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self._stop = asyncio.Event()

    def request_stop(self, reason: str = "") -> None:
        if not self._stop.is_set():
            log.info("stopping%s", f" ({reason})" if reason else "")
            self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        settings = self.archive.settings
        log.info(
            "archiver daemon started: storage %s, database %s, inbox %s",
            settings.storage.root.resolve(),
            "sqlite" if not settings.storage.database_url else "external",
            settings.inbox_dir.resolve(),
        )
        try:
            while not self._stop.is_set():
                await asyncio.to_thread(self._inbox_pass)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stop.wait(), timeout=settings.daemon.inbox_poll_interval
                    )
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        log.info("archiver daemon stopped")

    def _inbox_pass(self) -> None:
        inbox: Path = self.archive.settings.inbox_dir
        inbox.mkdir(parents=True, exist_ok=True)
        process_inbox(
            inbox,
            lambda path, origin: self.archive.add_file(path, origin=origin),
            self.archive.clock,
            should_stop=self._stop.is_set,
        )


def run_daemon(archive: Archive) -> None:
    asyncio.run(Daemon(archive).run())
