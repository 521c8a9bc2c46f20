"""The work, whoever runs it: a capture batch, a re-check batch, a stamping pass, a
notification pass. ``archiver run`` calls these itself on SQLite (the in-process
dispatcher, :mod:`archiver.schedule.daemon`); on PostgreSQL the procrastinate tasks
of :mod:`archiver.queue.tasks` call the same functions in ``archiver worker``.

Captures go one of two routes: ``capture`` (plain HTTP) or ``browser`` (a Chromium
or a platform step such as yt-dlp's video: the memory-hungry ones, which a worker with
more memory can take alone). A platform step is part of its capture, not a task of its
own: a snapshot is one WARC file, the video in it included.

On the queue, a capture task takes the sources of one host partition (:func:`partition`:
whole hosts with their ``www.`` and mobile aliases, :data:`PARTITIONS` of them), and
tasks of one partition and route run one at a time (a procrastinate lock): a host's
politeness (``capture.per_host_concurrency``, ``per_host_interval``, Retry-After) then
holds across all workers, not per worker.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from archiver.capture.policy import capture_methods, platform_steps
from archiver.config import Settings
from archiver.models import Source
from archiver.net.sites import alias_group_of_url
from archiver.schedule.due import due_condition
from archiver.store.leases import claimable

if TYPE_CHECKING:
    from archiver.app import Archive
    from archiver.capture.recording import CaptureOutcome, DueSource
    from archiver.capture.runner import CaptureRunner
    from archiver.check.runner import CheckRunner, RunReport
    from archiver.integrity.stamping import StampSummary

log = logging.getLogger(__name__)

ROUTES = ("capture", "browser")
# Host partitions of the capture tasks (see the module's docstring).
PARTITIONS = 16
# An owner no runner has: "claimable by nobody in particular" (free now).
_NOBODY = "-"


def route_of(settings: Settings, platform: str, kind: str) -> str:
    """``browser`` for a source whose capture needs a Chromium or a platform step,
    else ``capture``."""
    if "browser" in capture_methods(kind, settings.capture.modes):
        return "browser"
    if platform_steps(platform, kind, settings.platforms):
        return "browser"
    return "capture"


def partition(url: str) -> int:
    """The host partition of ``url``: the same for a host and its aliases, everywhere."""
    return zlib.crc32(alias_group_of_url(url).encode()) % PARTITIONS


def capture_batch_size(settings: Settings, route: str | None) -> int:
    """Sources taken by one capture task (as many as ``archiver run`` takes per pass)."""
    if route == "browser":
        return settings.capture.browser_concurrency * 4
    return settings.capture.concurrency * 4


def _route_condition(
    session: Session, settings: Settings, route: str, now: datetime
) -> ColumnElement[bool]:
    pairs = session.execute(
        select(Source.platform, Source.kind).where(due_condition(now)).distinct()
    )
    wanted = [
        and_(Source.platform == platform, Source.kind == kind)
        for platform, kind in pairs
        if route_of(settings, platform, kind) == route
    ]
    return or_(*wanted) if wanted else false()


def due_capture_ids(
    archive: Archive,
    owner: str,
    *,
    limit: int,
    route: str | None = None,
    part: int | None = None,
) -> list[int]:
    """Up to ``limit`` sources whose capture is due, on ``route`` and in host partition
    ``part`` (None: any), that no runner but ``owner`` holds."""
    now = archive.clock()
    with archive.db.session() as session:
        conditions = [due_condition(now), claimable(owner, now)]
        if route is not None:
            conditions.append(_route_condition(session, archive.settings, route, now))
        if part is None:
            query = select(Source.id).where(*conditions).order_by(Source.id).limit(limit)
            return list(session.scalars(query))
        rows = session.execute(select(Source.id, Source.url).where(*conditions).order_by(Source.id))
        ids = [source_id for source_id, url in rows if partition(url) == part]
        return ids[:limit]


def due_captures_by_partition(archive: Archive) -> Counter[tuple[str, int]]:
    """How many sources wait for a capture that nobody holds, per route and partition."""
    now = archive.clock()
    counts: Counter[tuple[str, int]] = Counter()
    with archive.db.session() as session:
        rows = session.execute(
            select(Source.url, Source.platform, Source.kind).where(
                due_condition(now), claimable(_NOBODY, now)
            )
        )
        for url, platform, kind in rows:
            counts[route_of(archive.settings, platform, kind), partition(url)] += 1
    return counts


def _still_due(
    archive: Archive, runner: CaptureRunner, due: Sequence[DueSource]
) -> list[DueSource]:
    """Of sources just claimed, those still due: one another runner captured between
    our choosing it and our claim (and released) is given back, not captured twice."""
    if not due:
        return []
    ids = [s.id for s in due]
    with archive.db.session() as session:
        still = set(
            session.scalars(
                select(Source.id).where(Source.id.in_(ids), due_condition(archive.clock()))
            )
        )
    runner.claims.release(i for i in ids if i not in still)
    return [s for s in due if s.id in still]


async def capture_batch(
    archive: Archive,
    runner: CaptureRunner,
    *,
    limit: int,
    route: str | None = None,
    part: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[CaptureOutcome]:
    """Claim up to ``limit`` due sources (on ``route``, in host partition ``part``) and
    capture them; their outcomes (none when nothing is due or another runner holds it
    all)."""
    ids = await asyncio.to_thread(
        due_capture_ids, archive, runner.claims.owner, limit=limit, route=route, part=part
    )
    if not ids or should_stop():
        return []
    taken, _ = await asyncio.to_thread(runner.take, source_ids=ids)
    due = await asyncio.to_thread(_still_due, archive, runner, taken)
    if not due:
        return []
    outcomes = await runner.run(due, should_stop=should_stop)
    log_captures(outcomes)
    return outcomes


def log_captures(outcomes: Sequence[CaptureOutcome]) -> None:
    if not outcomes:
        return
    preserved = sum(1 for o in outcomes if o.preserved)
    reasons = sorted({o.failure or f"HTTP {o.http_status}" for o in outcomes if not o.preserved})
    log.info(
        "captured %d sources: %d preserved, %d not (%s)",
        len(outcomes),
        preserved,
        len(outcomes) - preserved,
        ", ".join(reasons) or "-",
    )


def due_checks_by_partition(archive: Archive, *, limit: int) -> Counter[int]:
    """Sources (of the ``limit`` due first) waiting for a re-check that nobody holds,
    per host partition."""
    runner = archive.check_runner(actor="daemon")  # a new owner: holds nothing
    return Counter(partition(d.url) for d in runner.due(limit=limit))


async def check_batch(
    runner: CheckRunner,
    *,
    limit: int,
    trigger: str,
    part: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[RunReport]:
    """Re-check up to ``limit`` due sources nobody else holds (one batch), in host
    partition ``part`` when given (of those due first); its report, logged (none when
    nothing is due)."""
    from archiver.check.summary import summary_text

    if part is None:
        due = await asyncio.to_thread(runner.due, limit=limit)
    else:
        first = await asyncio.to_thread(runner.due, limit=limit * PARTITIONS)
        due = [d for d in first if partition(d.url) == part][:limit]
    if not due or should_stop():
        return []
    reports = await runner.run(due, trigger=trigger, should_stop=should_stop)
    for report in reports:
        # INFO even when degraded: the operator's plain-words line (schedule/telling.py)
        # is the one warning, once per run.
        log.info("%s", summary_text([report]))
    return reports


def stamp_pass(archive: Archive, should_stop: Callable[[], bool]) -> StampSummary:
    """Seal a custody head when one is due, then fetch every due RFC 3161 stamp."""
    return archive.integrity.stamp_pending(should_stop=should_stop)


async def notify_pass(archive: Archive, should_stop: Callable[[], bool]) -> None:
    """Send the operator's waiting notifications (the outbox keeps what fails)."""
    from archiver.check.notify import Notifier

    notifier = Notifier(
        archive.settings.notify, archive.db, clock=archive.clock, should_stop=should_stop
    )
    await notifier.aflush()
