"""Obtaining the pending RFC 3161 stamps: the follow-up step after sealing.

Pending rows (:mod:`.seal`) are due at once; each failed attempt pushes the next one
back (1 min, 2, 4, ... at most 6 h apart), so an archiver that is offline for a week
keeps working and gets its stamps when the network returns. A token is written only
into a row that is still pending (``WHERE status = 'pending'``): a stored token is
never replaced.

TSAs are reached through ``network.proxy`` like every other fetcher, except a TSA on
the loopback interface (a proxy cannot reach the archiver's own host). Each request ends
at ``integrity.tsa_timeout`` whatever the TSA does (a total deadline, not per read).
A pass that is stopping (``should_stop``) abandons the request in flight and asks no
more: the stamps it did not get are left as they were, due, and asked for again by the
next pass (an abandoned request is not counted as an attempt).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import or_, select, update

from archiver.bounded import Stopped
from archiver.config import Settings
from archiver.integrity.timestamp import (
    PendingTimestamp,
    TimestampClient,
    TimestampResult,
    TimestampToken,
)
from archiver.models import TimestampRecord
from archiver.store.db import Database

_RETRY_BASE = timedelta(minutes=1)
_RETRY_MAX = timedelta(hours=6)


def retry_delay(attempts: int) -> timedelta:
    delay: timedelta = _RETRY_BASE * (2 ** min(max(attempts - 1, 0), 20))
    return min(delay, _RETRY_MAX)


@dataclass
class StampSummary:
    granted: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)
    # Stopping: the pass ended early, leaving due stamps for the next one.
    abandoned: bool = False


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def timestamp_client(
    settings: Settings,
    clock: Callable[[], datetime],
    *,
    should_stop: Callable[[], bool] | None = None,
) -> TimestampClient:
    """A client for the configured TSAs, through ``network.proxy`` when one is set."""
    proxy = settings.network.proxy or None
    timeout = settings.integrity.tsa_timeout

    def http() -> httpx.AsyncClient:
        mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
        if proxy:
            for url in settings.integrity.tsa_urls:
                parts = urlsplit(url)
                if _is_loopback(url):
                    mounts[f"{parts.scheme}://{parts.netloc}"] = httpx.AsyncHTTPTransport()
        return httpx.AsyncClient(
            timeout=timeout,
            proxy=proxy,
            mounts=mounts or None,
            headers={"User-Agent": settings.network.user_agent},
            trust_env=False,
        )

    return TimestampClient(
        settings.integrity.tsa_urls,
        http=http,
        timeout=timeout,
        clock=clock,
        should_stop=should_stop,
    )


def stamp_due(
    db: Database,
    client: TimestampClient,
    clock: Callable[[], datetime],
    *,
    limit: int = 200,
    subject: tuple[str, str] | None = None,
) -> StampSummary:
    """Ask the TSAs for every pending stamp that is due (or, with ``subject``, for the
    pending stamps of that one subject, due or not); store what they grant."""
    now = clock()
    query = select(TimestampRecord).where(TimestampRecord.status == "pending")
    if subject is not None:
        query = query.where(
            TimestampRecord.subject_type == subject[0], TimestampRecord.subject_id == subject[1]
        )
    else:
        query = query.where(
            or_(TimestampRecord.next_attempt_at.is_(None), TimestampRecord.next_attempt_at <= now)
        )
    with db.session() as session:
        rows = session.scalars(query.order_by(TimestampRecord.id).limit(limit)).all()
        asks = [
            (r.id, PendingTimestamp(r.tsa_url, r.digest, r.last_error or "", now, r.attempts))
            for r in rows
        ]
    summary = StampSummary()
    # The network part runs outside any transaction: a slow TSA holds no lock. A TSA
    # that fails is not asked again in this pass: with it down, a backlog of stamps
    # would otherwise cost one timeout each.
    results: list[tuple[int, PendingTimestamp, TimestampResult]] = []
    failed: dict[str, PendingTimestamp] = {}
    for row_id, pending in asks:
        down = failed.get(pending.tsa_url)
        if down is not None:
            results.append((row_id, pending, replace(down, attempts=pending.attempts)))
            continue
        try:
            [result] = client.retry([pending])
        except Stopped:  # what was obtained is stored; the rest stays due
            summary.abandoned = True
            break
        if isinstance(result, PendingTimestamp):
            failed[pending.tsa_url] = result
        results.append((row_id, pending, result))
    with db.session() as session:
        for row_id, pending, result in results:
            guard = update(TimestampRecord).where(
                TimestampRecord.id == row_id, TimestampRecord.status == "pending"
            )
            if isinstance(result, TimestampToken):
                session.execute(
                    guard.values(
                        status="granted",
                        token=result.token,
                        gen_time=result.gen_time,
                        serial=str(result.serial),
                        tsa_certificate_sha256=result.tsa_certificate_sha256,
                        received_at=result.received_at,
                        attempts=pending.attempts + 1,
                        next_attempt_at=None,
                        last_error=None,
                    )
                )
                summary.granted += 1
            else:
                session.execute(
                    guard.values(
                        attempts=result.attempts,
                        next_attempt_at=clock() + retry_delay(max(result.attempts, 1)),
                        last_error=result.reason[:2000],
                    )
                )
                summary.pending += 1
                if result is failed.get(result.tsa_url):
                    summary.errors.append(f"{result.tsa_url}: {result.reason}")
    return summary
