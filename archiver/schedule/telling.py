"""The daemon's plain-words log for the operator (archiver.schedule.operator says what):
at start, what is switched off and how to get in (:func:`log_start`), each report's
counts; then, every :data:`EVERY` seconds (:func:`tell_loop`),
a line per report whose counts changed, one line per degraded re-check run, and the
timestamp authorities' trouble (again every half hour while it lasts, and when it ends).

Read from the database, whoever did the work (this process, or ``archiver worker``
processes on the PostgreSQL queue), so the lines are the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import datetime, timedelta

from sqlalchemy import select

from archiver.app import Archive
from archiver.models import CheckRun
from archiver.schedule.operator import (
    START_REPORTS,
    Repeat,
    first_token_line,
    report_progress,
    stamp_trouble,
    switched_off,
)

log = logging.getLogger("archiver.operator")

EVERY = 60.0


def start_lines(archive: Archive, config: str | None = None) -> list[tuple[int, str]]:
    """(level, line) to log when the daemon starts."""
    from archiver.web.tokens import active_token_count

    lines = [(logging.WARNING, line) for line in switched_off(archive.settings)]
    if archive.settings.web.enabled and active_token_count(archive.db) == 0:
        lines.append((logging.WARNING, first_token_line(config)))
    return lines


def log_start(archive: Archive, config: str | None = None) -> None:
    """``archiver run``'s first lines (``config``: the --config file it was given)."""
    for level, line in start_lines(archive, config):
        log.log(level, "%s", line)


def degraded_line(run: CheckRun) -> str:
    return (
        f"re-check run {run.id} degraded: {run.degraded_reason or 'no reason recorded'}; "
        f"{run.checked} sources checked, none changed state (our own network, not the "
        "sources)"
    )


# How far back each look at finished runs goes before the last finish seen.
SKEW = timedelta(minutes=5)


class Teller:
    """What has been said, so that only news is said again."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.reports: dict[int, str] = {}
        self.repeat = Repeat()
        # Runs are read by finishing time, not id: on PostgreSQL check tasks of several
        # partitions run at once, so a run with a lower id can finish after a higher
        # one. Each look goes back SKEW before the last finish seen (workers' clocks
        # differ a little); ``told`` keeps that window's runs from being said twice.
        self.since: datetime | None = None
        self.told: dict[int, datetime] = {}

    def start(self) -> None:
        self.since = self.archive.clock()
        self.tell(first=True)

    def tell(self, *, first: bool = False) -> None:
        progress = report_progress(self.archive.db)
        news = [p for p in progress if self.reports.get(p.report_id) != p.line()]
        shown = news[:START_REPORTS] if first else news
        for item in shown:
            log.info("%s", item.line())
        if len(news) > len(shown):
            log.info(
                "... and %d more reports (archiver status lists them all)",
                len(news) - len(shown),
            )
        self.reports.update({p.report_id: p.line() for p in progress})
        self._runs()
        self._stamps()

    def _runs(self) -> None:
        with self.archive.db.session() as session:
            finished = select(CheckRun).where(CheckRun.finished_at.is_not(None))
            if self.since is not None:
                finished = finished.where(CheckRun.finished_at >= self.since)
            seen = list(session.scalars(finished.order_by(CheckRun.id)))
            lines = [degraded_line(r) for r in seen if r.degraded and r.id not in self.told]
        for line in lines:
            log.warning("%s", line)
        if seen:
            latest = max(r.finished_at for r in seen if r.finished_at is not None)
            self.since = max(self.since or latest, latest - SKEW)
            self.told = {
                r.id: r.finished_at
                for r in seen
                if r.finished_at is not None and r.finished_at >= self.since
            }

    def _stamps(self) -> None:
        trouble = stamp_trouble(self.archive.db)
        if trouble is None:
            if self.repeat.clear("stamps"):
                log.info("timestamps: every authority asked is giving tokens again")
            return
        # The same authorities failing the same way: not news (counts and times aside).
        shape = re.sub(r"\d+", "#", trouble)
        if self.repeat.due("stamps", shape, self.archive.clock()):
            log.warning("%s", trouble)


async def tell_loop(archive: Archive, stop: asyncio.Event) -> None:
    """Each report's counts at start, then what changed, until ``stop``."""
    teller = Teller(archive)
    await asyncio.to_thread(teller.start)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=EVERY)
        if stop.is_set():
            return
        try:
            await asyncio.to_thread(teller.tell)
        except Exception:  # the loop's boundary: telling must never stop the daemon
            log.exception("the operator's summary could not be read")
