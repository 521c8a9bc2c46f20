"""Recording finished captures: the snapshot row, the observation and the source's new
state, in one transaction per batch (with the snapshot's seal and custody entry).

The WARC file is sealed before its row is written, so a crash can leave an
unreferenced file (found by ``archiver verify``) but never a row that points to a
missing file. Captures made in worker processes (:mod:`archiver.capture.workers`) are
recorded here too, by the parent: the database has one writer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.capture.exchange import FailureKind
from archiver.capture.snapshot import WrittenSnapshot
from archiver.check.signals import Signal, signal_from_response, state_after
from archiver.config import Settings
from archiver.harvest.urls import as_requested
from archiver.models import Observation, PlatformRecord, Snapshot, Source
from archiver.store.db import Database, insert_rows

if TYPE_CHECKING:
    from archiver.integrity.seal import Sealer

# Failed first captures are retried: 10 min, 20 min, 40 min, ... at most a day apart.
_RETRY_BASE = timedelta(minutes=10)
_RETRY_MAX = timedelta(days=1)
# Captures made again for a part a preserved snapshot lacks (10, 20, 40 minutes after).
_PART_RETRIES = 3


@dataclass(frozen=True)
class DueSource:
    id: int
    url: str
    platform: str
    kind: str
    state: str
    cited_as: tuple[str, ...]

    @property
    def fetch_url(self) -> str:
        """What is fetched: the URL as the first citation wrote it (as a browser sends
        it), not the normalized URL, which only decides which citations share a source."""
        return as_requested(self.cited_as[0]) if self.cited_as else self.url


@dataclass(frozen=True)
class CaptureOutcome:
    source_id: int
    url: str
    snapshot_id: str | None
    http_status: int | None
    failure: str | None
    state_before: str
    state_after: str
    implied_state: str | None
    error: str | None = None
    # What the failure was, in words: for "other", the exception's class and message.
    failure_detail: str | None = None

    @property
    def preserved(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


@dataclass(frozen=True)
class Finished:
    """A capture ready to be recorded: its sealed WARC file, or what it failed with.

    ``error`` is a message (``TypeName: text``), not the exception: a capture made in
    a worker process reaches the recorder through a pipe."""

    source: DueSource
    written: WrittenSnapshot | None = None
    error: str | None = None


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def retry_delay(attempts: int) -> timedelta:
    """Back-off before the next capture attempt after ``attempts`` failed ones."""
    delay: timedelta = _RETRY_BASE * (2 ** max(attempts - 1, 0))
    return min(delay, _RETRY_MAX)


def capture_claim(signal: Signal, previous: str) -> Signal:
    """What a capture may say about a source already in ``previous``. A 2xx says the
    page is there, not that its text is the baseline's again: only the re-check's
    comparison takes "altered" back (a re-capture of an altered page stays altered)."""
    if signal.implied_state == "live" and previous == "altered":
        return Signal(
            None,
            "captured again (HTTP 2xx); whether the text still differs from the baseline "
            "is for the re-check to say",
        )
    return signal


def _combined_signal(response: Signal, platform: dict[str, Any] | None) -> Signal:
    if platform is None:  # no platform step ran: the HTTP status speaks alone
        return response
    from archiver.capture.platform_step import combined_signal

    return combined_signal(response, platform)


def _platform_row(
    source_id: int, snapshot_id: str, record: dict[str, Any], now: datetime
) -> dict[str, Any]:
    from archiver.capture.platform_step import platform_row

    return platform_row(source_id, snapshot_id, record, now)


class CaptureRecorder:
    """Writes finished captures to the database; one instance per run, used from one
    thread at a time (SQLite takes one writer at a time)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        clock: Callable[[], datetime],
        sealer: Sealer | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.sealer = sealer

    def record_batch(self, items: Sequence[Finished]) -> list[CaptureOutcome | Exception]:
        """Record finished captures in one transaction. If it fails, each is recorded
        alone, so a bad item costs only its own record (and gets its own error)."""
        try:
            with self.db.session() as session:
                return list(self._record_in(session, items))
        except Exception as exc:  # noqa: BLE001 - retried item by item below
            if len(items) == 1:
                return [exc]
        results: list[CaptureOutcome | Exception] = []
        for item in items:
            try:
                with self.db.session() as session:
                    results.extend(self._record_in(session, [item]))
            except Exception as exc:  # noqa: BLE001 - raised to that capture's caller
                results.append(exc)
        return results

    def _record_in(self, session: Session, items: Sequence[Finished]) -> list[CaptureOutcome]:
        ids = sorted({item.source.id for item in items})
        rows = {row.id: row for row in session.scalars(select(Source).where(Source.id.in_(ids)))}
        # Snapshot rows first (observations refer to them); new rows as bulk inserts,
        # which cost far less than the ORM's unit of work, row by row.
        snapshots = [
            self._snapshot_row(item.source, item.written)
            for item in items
            if item.written is not None and item.source.id in rows
        ]
        if snapshots:
            insert_rows(session, Snapshot, snapshots)
            # Bulk inserts fire no ORM events: the seal and custody entry are made here.
            if self.sealer is not None:
                recorded = [
                    (item.source.id, item.written)
                    for item in items
                    if item.written is not None and item.source.id in rows
                ]
                self.sealer.seal(session, recorded, self.clock())
        platform_rows = [
            _platform_row(item.source.id, item.written.id, item.written.platform, self.clock())
            for item in items
            if item.written is not None and item.written.platform and item.source.id in rows
        ]
        if platform_rows:
            insert_rows(session, PlatformRecord, platform_rows)
        outcomes = []
        observations: list[dict[str, Any]] = []
        for item in items:
            row = rows.get(item.source.id)
            if item.written is not None:
                outcomes.append(self._record(row, item.source, item.written, observations))
            else:
                assert item.error is not None
                outcomes.append(self._record_error(row, item.source, item.error, observations))
        if observations:
            insert_rows(session, Observation, observations)
        return outcomes

    @staticmethod
    def _snapshot_row(source: DueSource, written: WrittenSnapshot) -> dict[str, Any]:
        main = written.main
        return dict(
            id=written.id,
            source_id=source.id,
            started_at=written.started_at,
            finished_at=written.finished_at,
            methods=list(written.methods),
            warc_path=str(written.relpath),
            warc_sha256=written.sha256,
            warc_size=written.size,
            http_status=main.status,
            final_url=main.final_url,
            redirect_chain=main.chain,
            payload_sha256=main.payload_sha256,
            payload_size=main.payload_size,
            content_type=main.content_type,
            title=main.title,
            failure_kind=main.failure_kind,
            failure_message=main.failure_message,
            tls_verified=main.tls_verified,
            truncated=written.truncated,
            artefacts=written.artefacts,
            records=written.records,
            incomplete=written.incomplete,
        )

    def _record(
        self,
        row: Source | None,
        source: DueSource,
        written: WrittenSnapshot,
        observations: list[dict[str, Any]],
    ) -> CaptureOutcome:
        main = written.main
        failure = FailureKind(main.failure_kind) if main.failure_kind is not None else None
        signal = _combined_signal(signal_from_response(main.status, failure), written.platform)
        now = self.clock()
        if row is None:  # deleted meanwhile: keep the file, skip the rows
            return self._outcome(source, written, signal, source.state)
        previous = row.state
        signal = capture_claim(signal, previous)
        new_state = self._apply(row, signal, now, written)
        observations.append(
            dict(
                source_id=source.id,
                observed_at=now,
                via="capture",
                snapshot_id=written.id,
                http_status=main.status,
                final_url=main.final_url,
                failure_kind=main.failure_kind,
                implied_state=signal.implied_state or previous,
                resulting_state=new_state,
                reason=signal.reason,
            )
        )
        return self._outcome(source, written, signal, previous, new_state)

    def _apply(
        self, row: Source, signal: Signal, now: datetime, written: WrittenSnapshot | None = None
    ) -> str:
        new_state = state_after(row.state, signal)
        if new_state != row.state:
            row.state = new_state
            row.state_since = now
        row.last_checked_at = now
        row.capture_attempts += 1
        status = written.main.status if written is not None else None
        preserved = signal.implied_state == "live" or (
            signal.implied_state is None and status is not None and 200 <= status < 300
        )
        if not preserved:
            row.next_capture_at = now + retry_delay(row.capture_attempts)
        elif written is not None and written.incomplete and row.capture_attempts <= _PART_RETRIES:
            # Preserved without a part (the video, the screenshot): captured again later
            # for it, as a new snapshot; this one stays as it is.
            row.next_capture_at = now + retry_delay(row.capture_attempts)
        else:
            row.next_capture_at = None
        if signal.accusing:
            # The accusation is confirmed (or not) by a check confirm_after from now.
            row.next_check_at = now + timedelta(seconds=self.settings.check.confirm_after)
        return new_state

    def _record_error(
        self,
        row: Source | None,
        source: DueSource,
        error: str,
        observations: list[dict[str, Any]],
    ) -> CaptureOutcome:
        now = self.clock()
        message = f"internal error: {error}"
        if row is not None:
            row.capture_attempts += 1
            # Our own failure (a full disk, a bucket refusing, a bug) says nothing about
            # the source: tried again at the first back-off step however often it
            # happened, so a long outage does not push the sources back by up to a day.
            row.next_capture_at = now + retry_delay(1)
            observations.append(
                dict(
                    source_id=source.id,
                    observed_at=now,
                    via="capture",
                    snapshot_id=None,
                    http_status=None,
                    final_url=None,
                    failure_kind="internal",
                    implied_state=row.state,
                    resulting_state=row.state,
                    reason=message,
                )
            )
        return CaptureOutcome(
            source.id,
            source.url,
            None,
            None,
            "internal",
            source.state,
            source.state,
            None,
            message,
            failure_detail=message,
        )

    @staticmethod
    def _outcome(
        source: DueSource,
        written: WrittenSnapshot,
        signal: Signal,
        previous: str,
        new_state: str | None = None,
    ) -> CaptureOutcome:
        return CaptureOutcome(
            source_id=source.id,
            url=source.url,
            snapshot_id=written.id,
            http_status=written.main.status,
            failure=written.main.failure_kind,
            state_before=previous,
            state_after=new_state or previous,
            implied_state=signal.implied_state,
            failure_detail=written.main.failure_message,
        )
