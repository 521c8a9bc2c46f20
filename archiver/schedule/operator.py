"""What the operator is told, in plain words, by ``archiver run`` and ``archiver status``:
where the pages are and how to get in, how far each report has got, whether timestamps
are being obtained, and what is switched off.

Every line says only what the program knows: counts come from the database (a source
is *captured* when one of our snapshots answered 2xx, *failed* when it was tried and
none did, grouped by its latest attempt's failure or HTTP status, *to go* when it was
never tried), a timestamp authority's trouble from the stamps it left pending and the
last token it gave.
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select

from archiver.config import Settings
from archiver.models import Citation, Report, Snapshot, Source, ThirdPartyCopy, TimestampRecord
from archiver.store.db import Database

# Libraries whose messages are chatter for the operator: shown at DEBUG, unless an error.
CHATTY = ("yt_dlp", "httpx", "httpcore", "apscheduler")
# Report lines at start-up; the rest are counted (archiver status lists them all).
START_REPORTS = 20


class ThirdPartyAtDebug(logging.Filter):
    """On a handler: records of :data:`CHATTY` loggers below ERROR become DEBUG records,
    shown only when the handler's threshold is DEBUG."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] in CHATTY and record.levelno < logging.ERROR:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self.threshold <= logging.DEBUG
        return True


# -- per report -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportProgress:
    report_id: int
    name: str
    sources: int
    captured: int
    failed: Counter[str]
    to_go: int

    def line(self) -> str:
        failed = sum(self.failed.values())
        kinds = ", ".join(f"{kind} {n}" for kind, n in self.failed.most_common())
        return (
            f"report {self.report_id} ({self.name}): {self.sources} sources, "
            f"{self.captured} captured, {failed} failed{f' ({kinds})' if kinds else ''}, "
            f"{self.to_go} to go"
        )


def _name(report: Report) -> str:
    origin = report.origin or ""
    if "://" in origin:
        return origin
    return report.title if not origin and report.title else Path(origin).name or "no name"


def report_progress(
    db: Database, *, report_ids: Collection[int] | None = None, source_ids: Collection[int] = ()
) -> list[ReportProgress]:
    """Each report's count (those given, those citing ``source_ids``, or all)."""
    with db.session() as session:
        reports_q = select(Report).order_by(Report.id)
        if source_ids:
            citing = select(Citation.report_id).where(Citation.source_id.in_(list(source_ids)))
            reports_q = reports_q.where(Report.id.in_(citing))
        elif report_ids is not None:
            reports_q = reports_q.where(Report.id.in_(list(report_ids)))
        reports = list(session.scalars(reports_q))
        ids = [r.id for r in reports]
        if not ids:
            return []
        pairs = session.execute(
            select(Citation.report_id, Citation.source_id)
            .where(Citation.report_id.in_(ids))
            .distinct()
        ).all()
        cited = {source for _, source in pairs}
        attempts = dict(
            session.execute(
                select(Source.id, Source.capture_attempts).where(Source.id.in_(cited))
            ).all()
        )
        third = select(ThirdPartyCopy.snapshot_id)
        rows = session.execute(
            select(Snapshot.source_id, Snapshot.http_status, Snapshot.failure_kind)
            .where(Snapshot.source_id.in_(cited), Snapshot.id.not_in(third))
            .order_by(Snapshot.started_at)
        ).all()
    preserved: set[int] = set()
    latest: dict[int, str] = {}
    for source_id, status, failure in rows:  # oldest first: the last one stays
        if status is not None and 200 <= status < 300:
            preserved.add(source_id)
        latest[source_id] = failure or (str(status) if status is not None else "no response")
    by_report: dict[int, set[int]] = defaultdict(set)
    for report_id, source_id in pairs:
        by_report[report_id].add(source_id)
    found = []
    for report in reports:
        sources = by_report[report.id]
        failed: Counter[str] = Counter()
        to_go = 0
        for source_id in sources - preserved:
            if attempts.get(source_id, 0) == 0 and source_id not in latest:
                to_go += 1
            else:
                failed[latest.get(source_id, "no snapshot recorded")] += 1
        found.append(
            ReportProgress(
                report.id, _name(report), len(sources), len(sources & preserved), failed, to_go
            )
        )
    return found


# -- timestamps -------------------------------------------------------------------------


def _at(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def stamp_trouble(db: Database) -> str | None:
    """``timestamps pending: 12; authority freetsa.org: no token since ...``, when an
    authority has failed to give a pending stamp; None otherwise."""
    with db.session() as session:
        pending = int(
            session.scalar(
                select(func.count())
                .select_from(TimestampRecord)
                .where(TimestampRecord.status == "pending")
            )
            or 0
        )
        failing = session.execute(
            select(TimestampRecord.tsa_url, func.count(), func.max(TimestampRecord.attempts))
            .where(TimestampRecord.status == "pending", TimestampRecord.attempts > 0)
            .group_by(TimestampRecord.tsa_url)
            .order_by(TimestampRecord.tsa_url)
        ).all()
        parts = []
        for tsa_url, count, most in failing:
            last_token = session.scalar(
                select(func.max(TimestampRecord.received_at)).where(
                    TimestampRecord.tsa_url == tsa_url, TimestampRecord.status == "granted"
                )
            )
            error = session.scalar(
                select(TimestampRecord.last_error)
                .where(
                    TimestampRecord.tsa_url == tsa_url,
                    TimestampRecord.status == "pending",
                    TimestampRecord.attempts == most,
                )
                .order_by(TimestampRecord.next_attempt_at.desc())
                .limit(1)
            )
            host = urlsplit(tsa_url).hostname or tsa_url
            since = f"no token since {_at(last_token)}" if last_token else "no token yet"
            failed = f"{count} stamps asked and not given"
            parts.append(f"authority {host}: {since}, {failed} (last error: {error or 'none'})")
    if not parts:
        return None
    return f"timestamps pending: {pending}; " + "; ".join(parts)


# -- what is switched off, and how to get in ------------------------------------------------


def switched_off(settings: Settings) -> list[str]:
    notify = settings.notify
    lines = []
    if not settings.daemon.capture:
        lines.append("captures off (daemon.capture = false): new sources are not captured")
    if not settings.daemon.check:
        lines.append("re-checks off (daemon.check = false): no source changes state")
    from archiver.check.notify import channels  # httpx and smtplib: only when asked

    if not channels(notify):
        lines.append(
            "notifications off: notify.webhook_url is empty and no e-mail is set up "
            "(notify.smtp_host, notify.email_to); state changes show only on the pages "
            "and in archiver status"
        )
    return lines


def command_path() -> str:
    """How to run this archiver's command, with its full path."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "archiver" and script.exists():
        return str(script.absolute())
    beside = Path(sys.executable).parent / "archiver"
    if beside.exists():
        return str(beside)
    return f"{sys.executable} -m archiver"


def first_token_line(config: str | None) -> str:
    where = f" --config {shlex.quote(str(Path(config).absolute()))}" if config else ""
    return (
        "no access token exists yet: create the first one (an admin, who can add reports "
        f"and make tokens for others) with:\n  {command_path()}{where} token create "
        "--role admin --name YOUR-NAME"
    )


class Repeat:
    """Says a line again only when it changed, or every ``every`` while it holds."""

    def __init__(self, every: timedelta = timedelta(minutes=30)) -> None:
        self.every = every
        self._said: dict[str, tuple[str, datetime]] = {}

    def due(self, key: str, shape: str, now: datetime) -> bool:
        said = self._said.get(key)
        if said is not None and said[0] == shape and now - said[1] < self.every:
            return False
        self._said[key] = (shape, now)
        return True

    def clear(self, key: str) -> bool:
        """Forget ``key``; True when it had been said (so its end can be said)."""
        return self._said.pop(key, None) is not None


def operator_summary(db: Database, settings: Settings) -> list[str]:
    """What ``archiver status`` adds below its table: the daemon's lines, all reports."""
    lines = [p.line() for p in report_progress(db)]
    trouble = stamp_trouble(db)
    if trouble is not None:
        lines.append(trouble)
    return lines + switched_off(settings)
