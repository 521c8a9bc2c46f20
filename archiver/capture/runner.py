"""Capturing due sources: many at once, bounded, one slow host never stalling the rest.

For each source: the plain HTTP capture and/or the browser capture (capture.modes), one
WARC file written atomically, then in one transaction the snapshot row, the observation
and the source's new state. The WARC file is sealed before its row is written, so a
crash can leave an unreferenced file (found by ``archiver verify``) but never a row
that points to a missing file.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from archiver.capture._batching import GroupCommit
from archiver.capture._browser_types import BrowserRequest, PageCapture
from archiver.capture.exchange import Exchange, FailureKind
from archiver.capture.http import Fetcher
from archiver.capture.policy import capture_methods, platform_steps, wants_browser_after_http
from archiver.capture.snapshot import CaptureInput, WrittenSnapshot, write_snapshot
from archiver.check.signals import Signal, signal_from_response, state_after
from archiver.config import Settings
from archiver.models import Citation, Observation, PlatformRecord, Snapshot, Source
from archiver.store.db import Database, insert_rows

if TYPE_CHECKING:
    from archiver.capture.browser import BrowserPool
    from archiver.capture.platform_step import PlatformStep
    from archiver.integrity.seal import Sealer

log = logging.getLogger(__name__)

# Failed first captures are retried: 10 min, 20 min, 40 min, ... at most a day apart.
_RETRY_BASE = timedelta(minutes=10)
_RETRY_MAX = timedelta(days=1)


@dataclass(frozen=True)
class DueSource:
    id: int
    url: str
    platform: str
    kind: str
    state: str
    cited_as: tuple[str, ...]


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

    @property
    def preserved(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


@dataclass(frozen=True)
class _Finished:
    """A capture ready to be recorded: its sealed WARC file, or the error it ended in."""

    source: DueSource
    written: WrittenSnapshot | None = None
    error: Exception | None = None


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


def retry_delay(attempts: int) -> timedelta:
    """Back-off before the next capture attempt after ``attempts`` failed ones."""
    delay: timedelta = _RETRY_BASE * (2 ** max(attempts - 1, 0))
    return min(delay, _RETRY_MAX)


def capture_settings_record(settings: Settings) -> dict[str, Any]:
    """The settings a snapshot was made with, for its warcinfo and provenance (no
    secrets: the proxy is shown without its password)."""
    capture = settings.capture
    return {
        "capture": {
            "modes": {k: list(v) for k, v in capture.modes.items()},
            "page_budget": capture.page_budget,
            "max_response_bytes": capture.max_response_bytes,
            "max_snapshot_bytes": capture.max_snapshot_bytes,
            "max_resources": capture.max_resources,
            "screenshot_max_height": capture.screenshot_max_height,
            "warc_compression_level": capture.warc_compression_level,
            "per_host_concurrency": capture.per_host_concurrency,
            "per_host_interval": capture.per_host_interval,
        },
        "network": {
            "proxy": settings.network.proxy_for_display(),
            "allow_private_networks": settings.network.allow_private_networks,
            "user_agent": settings.network.user_agent,
            "timeout": settings.network.timeout,
            "max_redirects": settings.network.max_redirects,
        },
    }


class CaptureRunner:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        clock: Callable[[], datetime],
        id_factory: Callable[[], uuid.UUID] = uuid.uuid4,
        sealer: Sealer | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.id_factory = id_factory
        # Signs each snapshot's manifest and logs it in custody, in the transaction
        # that records it (Archive.capture_runner always passes one).
        self.sealer = sealer
        # Identical for every snapshot of this run: built once.
        self._settings_record = capture_settings_record(settings)
        # Platforms (issue 4): YouTube/Facebook steps, set up per run when wanted.
        self._platforms: PlatformStep | None = None

    # -- choosing work ---------------------------------------------------------------

    def due_sources(
        self, *, limit: int | None = None, source_ids: Sequence[int] | None = None
    ) -> list[DueSource]:
        """Sources not yet preserved whose next capture time has come (or the ones
        named, whatever their state)."""
        now = self.clock()
        preserved = (
            select(Snapshot.source_id)
            .where(Snapshot.http_status >= 200, Snapshot.http_status < 300)
            .scalar_subquery()
        )
        query = select(Source).order_by(Source.id)
        if source_ids is not None:
            query = query.where(Source.id.in_(list(source_ids)))
        else:
            query = query.where(
                Source.id.not_in(preserved),
                or_(Source.next_capture_at.is_(None), Source.next_capture_at <= now),
            )
        if limit is not None:
            query = query.limit(limit)
        with self.db.session() as session:
            sources = session.scalars(query).all()
            cited: dict[int, list[str]] = {}
            ids = [s.id for s in sources]
            if ids:
                rows = session.execute(
                    select(Citation.source_id, Citation.url_as_cited)
                    .where(Citation.source_id.in_(ids))
                    .order_by(Citation.id)
                )
                for source_id, url in rows:
                    if url not in cited.setdefault(source_id, []):
                        cited[source_id].append(url)
            return [
                DueSource(s.id, s.url, s.platform, s.kind, s.state, tuple(cited.get(s.id, ())))
                for s in sources
            ]

    def count_due(self) -> int:
        with self.db.session() as session:
            preserved = select(Snapshot.source_id).where(
                Snapshot.http_status >= 200, Snapshot.http_status < 300
            )
            query = select(func.count()).where(
                Source.id.not_in(preserved),
                or_(Source.next_capture_at.is_(None), Source.next_capture_at <= self.clock()),
            )
            return int(session.scalar(query) or 0)

    # -- capturing -------------------------------------------------------------------

    async def run(
        self,
        sources: Sequence[DueSource],
        *,
        progress: Callable[[CaptureOutcome], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> list[CaptureOutcome]:
        """Capture ``sources`` with bounded concurrency; one outcome per source started."""
        spool = self.settings.storage.root / "tmp"
        spool.mkdir(parents=True, exist_ok=True)
        gate = asyncio.Semaphore(self.settings.capture.concurrency)
        outcomes: list[CaptureOutcome] = []
        # One thread records results: SQLite takes one writer at a time, and writers in
        # several threads would only wait on its lock (with sleeps in between). Captures
        # that finish while it is busy are recorded together, in one transaction.
        self._db_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archiver-db")
        self._recorder = GroupCommit(self._record_batch, self._db_writer)
        # WARC writing is gzip and sha256 (which release the GIL) and two fsyncs per file
        # (which wait on the disk, using no core): a few threads per core, so the cores
        # stay busy while some threads wait for the disk.
        self._warc_writers = ThreadPoolExecutor(
            max_workers=min(32, 4 * (os.cpu_count() or 2)), thread_name_prefix="archiver-warc"
        )
        try:
            await self._run(sources, gate, outcomes, spool, progress, should_stop)
        finally:
            self._warc_writers.shutdown(wait=True)
            self._db_writer.shutdown(wait=True)
        return outcomes

    async def _run(
        self,
        sources: Sequence[DueSource],
        gate: asyncio.Semaphore,
        outcomes: list[CaptureOutcome],
        spool: Path,
        progress: Callable[[CaptureOutcome], None] | None,
        should_stop: Callable[[], bool],
    ) -> None:
        async with contextlib.AsyncExitStack() as stack:
            fetcher = await stack.enter_async_context(
                Fetcher(self.settings.network, self.settings.capture, spool_dir=spool, clock=self.clock)
            )  # fmt: skip
            browser = None
            modes = self.settings.capture.modes
            if any("browser" in capture_methods(s.kind, modes) for s in sources):
                # Playwright is loaded only when a browser capture may happen.
                from archiver.capture.browser import BrowserPool

                browser = await stack.enter_async_context(
                    BrowserPool(self.settings.capture, self.settings.network)
                )
            self._platforms = None
            wanted = self.settings.platforms
            if any(platform_steps(s.platform, s.kind, wanted) for s in sources):
                # The platform step (yt-dlp, the recognisers and the harvest package
                # they use) is loaded only when a source wants it: about a third of a
                # second of start-up for a run of plain pages.
                from archiver.capture.platform_step import step_for

                self._platforms = step_for(self.settings, [(s.platform, s.kind) for s in sources])
            # The gate bounds captures on the network; the backlog bounds captures
            # fetched but not yet written (their bodies wait in memory or spool files).
            backlog = asyncio.Semaphore(self.settings.capture.concurrency * 4)

            async def one(source: DueSource) -> None:
                async with backlog:
                    if should_stop():
                        return
                    outcome = await self._capture_one(source, fetcher, browser, gate)
                outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)

            await asyncio.gather(*(one(s) for s in sources))

    async def _capture_one(
        self,
        source: DueSource,
        fetcher: Fetcher,
        browser: BrowserPool | None,
        gate: asyncio.Semaphore,
    ) -> CaptureOutcome:
        exchanges: list[Exchange] = []
        workdirs: list[Path] = []
        try:
            async with gate:
                capture = await self._observe(source, fetcher, browser, exchanges)
                capture = await self._platform(source, capture, fetcher, exchanges, workdirs)
            written = await asyncio.get_running_loop().run_in_executor(
                self._warc_writers,
                functools.partial(
                    write_snapshot,
                    self.settings.storage.root,
                    capture,
                    clock=self.clock,
                    id_factory=self.id_factory,
                    max_bytes=self.settings.capture.max_snapshot_bytes,
                    compress_level=self.settings.capture.warc_compression_level,
                ),
            )
            # Only now, with its WARC file sealed, is the snapshot's row written.
            return await self._recorder.submit(_Finished(source, written))
        except Exception as exc:
            log.exception("capture of source %d (%s) failed", source.id, source.url)
            return await self._recorder.submit(_Finished(source, error=exc))
        finally:
            for exchange in exchanges:
                exchange.close()
            for workdir in workdirs:  # sealed in the WARC by now, or not wanted
                shutil.rmtree(workdir, ignore_errors=True)

    async def _observe(
        self,
        source: DueSource,
        fetcher: Fetcher,
        browser: BrowserPool | None,
        exchanges: list[Exchange],
    ) -> CaptureInput:
        """The network part of a capture: plain HTTP and/or the browser, per policy."""
        started = self.clock()
        methods = capture_methods(source.kind, self.settings.capture.modes)
        budget = self.settings.capture.page_budget
        chain: list[Exchange] = []
        if "http" in methods:
            chain = await fetcher.fetch_chain(source.url, deadline=time.monotonic() + budget)
            exchanges.extend(chain)
        final = chain[-1] if chain else None
        page: PageCapture | None = None
        used = [m for m in methods if m == "http"]
        # No browser when the plain capture found a document (a reader sees the same
        # bytes) or could not reach the host at all (the browser would fail too).
        if "browser" in methods and (
            final is None
            or (final.ok and wants_browser_after_http(methods, final.header("content-type")))
        ):
            page = await self._browse(source.url, fetcher, browser, budget, source.platform)
            exchanges.extend(page.exchanges)
            used.append("browser")
        return CaptureInput(
            source_id=source.id,
            url=source.url,
            cited_as=source.cited_as,
            started_at=started,
            finished_at=self.clock(),
            methods=tuple(used),
            http_chain=chain,
            page=page,
            settings=self._settings_record,
        )

    async def _browse(
        self,
        url: str,
        fetcher: Fetcher,
        browser: BrowserPool | None,
        budget: float,
        platform: str = "",
    ) -> PageCapture:
        deadline = time.monotonic() + budget
        # Platforms (issue 4): the operator's Facebook session, when one is configured.
        platforms = self._platforms
        session = platforms.session_for(platform) if platforms is not None else None

        async def fetch(request: BrowserRequest) -> Exchange:
            return await fetcher.fetch(
                request.url,
                method=request.method,
                headers=request.headers,
                body=request.post_body or b"",
                deadline=deadline,
                via="browser",
                resource_type=request.resource_type,
            )

        # The pool exists whenever a due source's methods include the browser.
        assert browser is not None
        return await browser.capture_page(
            url,
            fetch,
            deadline=deadline,
            operator_storage_state=session.storage_state if session is not None else None,
        )

    async def _platform(
        self,
        source: DueSource,
        capture: CaptureInput,
        fetcher: Fetcher,
        exchanges: list[Exchange],
        workdirs: list[Path],
    ) -> CaptureInput:
        """Platforms (issue 4): the YouTube/Facebook step after the page capture;
        its failures are recorded, never fatal (archiver.capture.platform_step)."""
        step = self._platforms
        if step is None or not step.wants(source.platform, source.kind):
            return capture
        deadline = time.monotonic() + self.settings.capture.page_budget

        async def fetch_image(url: str) -> Exchange:
            return await fetcher.fetch(
                url, deadline=deadline, via="platform", resource_type="image"
            )

        return await step.augment(
            source.url, source.platform, source.kind, capture,
            fetch_image=fetch_image, spool=self.settings.storage.root / "tmp",
            exchanges=exchanges, workdirs=workdirs,
        )  # fmt: skip

    # -- recording -------------------------------------------------------------------

    def _record_batch(self, items: Sequence[_Finished]) -> list[CaptureOutcome | Exception]:
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

    def _record_in(self, session: Session, items: Sequence[_Finished]) -> list[CaptureOutcome]:
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
        new_state = self._apply(row, signal, now)
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

    def _apply(self, row: Source, signal: Signal, now: datetime) -> str:
        new_state = state_after(row.state, signal)
        if new_state != row.state:
            row.state = new_state
            row.state_since = now
        row.last_checked_at = now
        row.capture_attempts += 1
        preserved = signal.implied_state == "live"
        row.next_capture_at = None if preserved else now + retry_delay(row.capture_attempts)
        if signal.accusing:
            # The accusation is confirmed (or not) by a check confirm_after from now.
            row.next_check_at = now + timedelta(seconds=self.settings.check.confirm_after)
        return new_state

    def _record_error(
        self,
        row: Source | None,
        source: DueSource,
        exc: Exception,
        observations: list[dict[str, Any]],
    ) -> CaptureOutcome:
        now = self.clock()
        message = f"internal error: {type(exc).__name__}: {exc}"
        if row is not None:
            row.capture_attempts += 1
            row.next_capture_at = now + retry_delay(row.capture_attempts)
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
            source.id, source.url, None, None, "internal", source.state, source.state, None, message
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
        )
