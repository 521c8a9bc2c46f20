"""Save Page Now: the Wayback Machine asked to capture a source right after we did, so
a copy made by an independent archive at the same time as ours exists.

The documented API (SPN2): ``POST /save`` with ``Authorization: LOW <access>:<secret>``,
``Accept: application/json`` and the form field ``url``, answered ``{"url", "job_id"}``;
then ``GET /save/status/<job_id>``, answered ``{"status": "pending"}``, ``{"status":
"success", "timestamp", "original_url"}`` or ``{"status": "error", "status_ext",
"message"}``. Too many requests or captures at once: HTTP 429 (``Retry-After``), or an
error such as ``error:user-session-limit``, ``error:too-many-daily-captures``.

It never delays our own capture: requests are queued as ``live_witnesses`` rows when a
snapshot of ours preserved a source, and the daemon works the queue after each capture
batch, one request per row per pass, never waiting for a job (the next pass polls it).
A refused or failed request is retried with back-off (``Retry-After`` when given) up to
``witnesses.save_page_now_max_attempts``, then given up and kept as ``failed`` with
its reason. Parsing and the back-off are pure; the rest is I/O at the edge.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

from sqlalchemy import exists, select

from archiver.capture.exchange import Exchange
from archiver.capture.http import Fetcher, decode
from archiver.config import Settings
from archiver.models import LiveWitness, Snapshot
from archiver.net.politeness import parse_retry_after
from archiver.store.db import Database
from archiver.witnesses.compare import compare_due
from archiver.witnesses.timemap import parse_wayback_timestamp

log = logging.getLogger(__name__)

SERVICE = "save_page_now"
# Snapshots of ours this recent are witnessed: "right after our capture", not a backlog.
WINDOW = timedelta(days=1)
# A running job is polled again this much later.
POLL_EVERY = timedelta(seconds=30)
MAX_BACKOFF = timedelta(days=1)
# Errors that another try cannot mend.
PERMANENT = frozenset(
    {"error:blocked-url", "error:invalid-url-syntax", "error:no-access", "error:blocked"}
)
_ANSWER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Answer:
    """What Save Page Now said: ``job`` (accepted), ``pending``, ``success``,
    ``retry`` (come back later) or ``failed`` (give up)."""

    kind: str
    job_id: str | None = None
    timestamp: str | None = None
    original_url: str | None = None
    message: str = ""
    retry_after: float | None = None


def _json(body: str) -> dict[str, object]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error(data: dict[str, object], fallback: str) -> Answer:
    ext = str(data.get("status_ext") or "")
    message = str(data.get("message") or fallback)
    text = f"{ext}: {message}" if ext else message
    return Answer("failed" if ext in PERMANENT else "retry", message=text)


def read_answer(status: int | None, body: str, retry_after: float | None) -> Answer:
    """Either answer (to ``/save`` or ``/save/status/<job>``) as one :class:`Answer`."""
    if status is None:
        return Answer("retry", message="no answer")
    if status == 429:
        return Answer("retry", message="HTTP 429: rate limited", retry_after=retry_after)
    if status in (401, 403):
        return Answer("failed", message=f"HTTP {status}: the keys were refused")
    data = _json(body)
    if status >= 300:
        return (
            _error(data, f"HTTP {status}")
            if data.get("status_ext")
            else Answer("retry", message=f"HTTP {status}", retry_after=retry_after)
        )
    state = str(data.get("status") or "")
    if state == "error":
        return _error(data, "error")
    if state == "success" and data.get("timestamp"):
        return Answer(
            "success",
            timestamp=str(data["timestamp"]),
            original_url=str(data.get("original_url") or ""),
        )
    if state == "pending":
        return Answer("pending")
    if data.get("job_id"):
        return Answer("job", job_id=str(data["job_id"]))
    return Answer("retry", message=f"unexpected answer: {body[:200]!r}")


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """One minute, doubled per attempt, at most a day; never less than Retry-After."""
    wait = timedelta(minutes=2 ** max(attempts - 1, 0))
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return min(wait, MAX_BACKOFF)


def memento_url(save_url: str, timestamp: str, original: str) -> str:
    parts = urlsplit(save_url)
    return f"{parts.scheme}://{parts.netloc}/web/{timestamp}/{original}"


@dataclass
class PassSummary:
    queued: int = 0
    asked: int = 0
    done: int = 0
    failed: int = 0
    compared: int = 0


class SavePageNow:
    """The queue of Save Page Now requests (``Archive.save_page_now``)."""

    def __init__(self, settings: Settings, db: Database, *, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock

    @property
    def active(self) -> bool:
        w = self.settings.witnesses
        return w.enabled and w.save_page_now

    def queue_new(self) -> int:
        """A pending request for each snapshot of ours that preserved its source in the
        last :data:`WINDOW` and has none yet."""
        now = self.clock()
        asked = exists().where(LiveWitness.snapshot_id == Snapshot.id)
        with self.db.session() as session:
            rows = session.execute(
                select(Snapshot.id, Snapshot.source_id, Snapshot.redirect_chain, Snapshot.final_url)
                .where(Snapshot.http_status >= 200, Snapshot.http_status < 300)
                .where(Snapshot.finished_at >= now - WINDOW, ~asked)
            ).all()
            for snapshot_id, source_id, chain, final_url in rows:
                url = chain[0]["url"] if chain else final_url
                session.add(
                    LiveWitness(
                        source_id=source_id, snapshot_id=snapshot_id, service=SERVICE, url=url,
                        status="pending", created_at=now, attempts=0, next_attempt_at=now,
                    )
                )  # fmt: skip
        return len(rows)

    async def run_due(
        self, *, limit: int = 20, should_stop: Callable[[], bool] | None = None
    ) -> PassSummary:
        """One pass: queue new snapshots, then one request for each due row."""
        summary = PassSummary()
        if not self.active:
            return summary
        summary.queued = self.queue_new()
        now = self.clock()
        with self.db.session() as session:
            due = session.scalars(
                select(LiveWitness)
                .where(LiveWitness.status.in_(("pending", "running")))
                .where(LiveWitness.next_attempt_at <= now)
                .order_by(LiveWitness.next_attempt_at, LiveWitness.id)
                .limit(limit)
            ).all()
            session.expunge_all()
        spool = self.settings.storage.root / "tmp"
        spool.mkdir(parents=True, exist_ok=True)
        async with Fetcher(
            self.settings.network, self.settings.capture, spool_dir=spool, clock=self.clock
        ) as fetcher:
            for row in due:
                if should_stop is not None and should_stop():
                    break
                summary.asked += 1
                answer = await self._ask(fetcher, row)
                outcome = self._record(row.id, answer)
                summary.done += outcome == "done"
                summary.failed += outcome == "failed"
            # The witnesses' copies against ours, once the archive replays them.
            summary.compared = await compare_due(self.settings, self.db, fetcher, self.clock)
        return summary

    def _headers(self) -> list[tuple[str, str]]:
        w = self.settings.witnesses
        return [
            ("User-Agent", self.settings.network.user_agent),
            ("Accept", "application/json"),
            ("Authorization", f"LOW {w.save_page_now_access_key}:{w.save_page_now_secret_key}"),
        ]

    async def _ask(self, fetcher: Fetcher, row: LiveWitness) -> Answer:
        base = self.settings.witnesses.save_page_now_url.rstrip("/")
        deadline = time.monotonic() + self.settings.witnesses.timeout
        if row.status == "running" and row.job_id:
            exchange = await fetcher.fetch(
                f"{base}/status/{row.job_id}", headers=self._headers(), deadline=deadline
            )
        else:
            body = urlencode({"url": row.url}).encode()
            headers = [*self._headers(), ("Content-Type", "application/x-www-form-urlencoded")]
            exchange = await fetcher.fetch(
                base, method="POST", headers=headers, body=body, deadline=deadline
            )
        try:
            return _read(exchange, self.clock())
        finally:
            exchange.close()

    def _record(self, row_id: int, answer: Answer) -> str:
        now = self.clock()
        max_attempts = self.settings.witnesses.save_page_now_max_attempts
        with self.db.session() as session:
            row = session.get(LiveWitness, row_id)
            assert row is not None
            if answer.kind == "job":
                row.status, row.job_id, row.next_attempt_at = (
                    "running",
                    answer.job_id,
                    now + POLL_EVERY,
                )
            elif answer.kind == "pending":
                row.next_attempt_at = now + POLL_EVERY
            elif answer.kind == "success" and answer.timestamp:
                # Compared with ours by the next pass (archiver.witnesses.compare).
                row.status, row.finished_at, row.next_attempt_at = "done", now, now
                row.memento_datetime = parse_wayback_timestamp(answer.timestamp)
                original = answer.original_url or row.url
                base = self.settings.witnesses.save_page_now_url
                row.memento_url = memento_url(base, answer.timestamp, original)
            else:
                row.attempts += 1
                row.last_error = answer.message
                row.job_id = None
                if answer.kind == "failed" or row.attempts >= max_attempts:
                    row.status, row.finished_at, row.next_attempt_at = "failed", now, None
                    log.warning("Save Page Now gave up on %s: %s", row.url, answer.message)
                else:
                    row.status = "pending"
                    row.next_attempt_at = now + backoff(row.attempts, answer.retry_after)
                    log.info("Save Page Now: %s, retrying %s later", answer.message, row.url)
            return row.status


def _read(exchange: Exchange, now: datetime) -> Answer:
    if exchange.failure is not None:
        first = (exchange.failure.message.splitlines() or ["failed"])[0]
        return Answer("retry", message=f"no answer: {first}")
    retry_after = exchange.header("retry-after")
    body = decode(exchange, _ANSWER_BYTES).data.decode("utf-8", "replace")
    wait = parse_retry_after(retry_after, now) if retry_after else None
    return read_answer(exchange.status, body, wait)
