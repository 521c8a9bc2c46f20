"""Capturing due sources: many at once, bounded, one slow host never stalling the rest.

For each source: the plain HTTP capture and/or the browser capture (capture.modes), one
WARC file written atomically, then in one transaction the snapshot row, the observation
and the source's new state (:mod:`archiver.capture.recording`). Plain-HTTP captures of
a large run are spread over worker processes (:mod:`archiver.capture.workers`).
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
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, select

from archiver.bounded import Stopped, bounded, stop_event
from archiver.capture._batching import GroupCommit
from archiver.capture._browser_fetch import page_fetch
from archiver.capture._browser_types import PageCapture
from archiver.capture.exchange import Exchange
from archiver.capture.http import Fetcher
from archiver.capture.policy import capture_methods, platform_steps, wants_browser_after_http
from archiver.capture.provenance import software_versions
from archiver.capture.recording import (
    CaptureOutcome,
    CaptureRecorder,
    DueSource,
    Finished,
    error_text,
    retry_delay,
)
from archiver.capture.session import OperatorSession
from archiver.capture.snapshot import CaptureInput, WrittenSnapshot, write_snapshot
from archiver.capture.warc import SnapshotAbandoned
from archiver.capture.who import captured_by
from archiver.capture.workers import (
    Send,
    WorkerSet,
    can_fork,
    plan_shares,
    stop_if_orphaned,
    worker_count,
)
from archiver.config import Settings
from archiver.errors import StoreError
from archiver.models import Citation, Source
from archiver.schedule.due import due_condition
from archiver.secrets import Secrets, settings_secrets
from archiver.storage import open_store, publish
from archiver.store.db import Database
from archiver.store.leases import Claims, claimable, held_elsewhere_ids

if TYPE_CHECKING:
    from archiver.capture.browser import BrowserPool
    from archiver.capture.platform_step import PlatformStep
    from archiver.integrity.seal import Sealer

log = logging.getLogger(__name__)

# Results from worker processes are recorded in batches: the first waits this long
# for others (a few hundred arrive per second in a large run).
_WORKER_RESULTS_LINGER = 0.05

__all__ = ["CaptureOutcome", "CaptureRunner", "DueSource", "retry_delay"]


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
        lease_owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.id_factory = id_factory
        # One capture or check per source at a time (archiver.store.leases): this
        # runner's claims. A check re-capturing what it holds shares its own.
        self.claims = Claims(db, clock=clock, lease=settings.capture.lease, owner=lease_owner)
        # Signs each snapshot's manifest and logs it in custody, in the transaction
        # that records it (Archive.capture_runner always passes one).
        self.sealer = sealer
        # Identical for every snapshot of this run: built once.
        self._settings_record = capture_settings_record(settings)
        self._captured_by = captured_by(settings)
        # Platforms (issue 4): YouTube/Facebook steps, set up per run when wanted.
        self._platforms: PlatformStep | None = None
        self._recording = CaptureRecorder(settings, db, clock=clock, sealer=sealer)
        # The settings' credentials, never written to a WARC (the session's are added
        # once a platform step loads it).
        self._settings_secrets = settings_secrets(settings)
        self._with_session: tuple[OperatorSession, Secrets] | None = None

    # -- choosing work ---------------------------------------------------------------

    def due_sources(
        self, *, limit: int | None = None, source_ids: Sequence[int] | None = None
    ) -> list[DueSource]:
        """Sources whose capture is due (:func:`due_condition`), or the ones named,
        whatever their state; either way not those another runner holds now."""
        now = self.clock()
        query = select(Source).order_by(Source.id)
        query = query.where(self._wanted(source_ids, now), claimable(self.claims.owner, now))
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

    def _wanted(self, source_ids: Sequence[int] | None, now: datetime) -> ColumnElement[bool]:
        if source_ids is not None:
            return Source.id.in_(list(source_ids))
        return due_condition(now)

    def take(
        self, *, limit: int | None = None, source_ids: Sequence[int] | None = None
    ) -> tuple[list[DueSource], int]:
        """Choose and claim: the due (or named) sources this runner now holds, for the
        next :meth:`run`, and how many it skipped because another runner holds them."""
        due = self.due_sources(limit=limit, source_ids=source_ids)
        now = self.clock()
        with self.db.session() as session:
            wanted = self._wanted(source_ids, now)
            busy = held_elsewhere_ids(session, wanted, self.claims.owner, now)
        got = self.claims.hand_over(s.id for s in due)
        return [s for s in due if s.id in got], len(busy | ({s.id for s in due} - got))

    def count_due(self) -> int:
        with self.db.session() as session:
            query = select(func.count()).where(
                due_condition(self.clock()),
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
        """Capture ``sources`` with bounded concurrency; one outcome per source captured.

        ``should_stop`` is asked before each capture made in this process, and while
        captures are in flight: once it is true they are abandoned (the network part
        cancelled, a WARC file being written given up and its temporary file removed; a
        file already complete is recorded). An abandoned capture is not recorded, so its
        source stays due. Worker processes (never used by a process running other
        threads, such as the daemon) capture their whole share.

        Each source is claimed first (handed over by :meth:`take`, or claimed now), and
        skipped when another runner holds it; released once recorded."""
        # Claimed here, before any worker is forked: workers capture, this process
        # holds the claims (renewed while it runs) and records.
        taken = self.claims.take_over(s.id for s in sources)
        sources = [s for s in sources if s.id in taken]
        if not sources:
            return []
        self._spool.mkdir(parents=True, exist_ok=True)
        # Package versions for provenance records, read once here: otherwise every WARC
        # thread of every worker process reads the package metadata at its first file.
        software_versions()
        shares, here = self._plan(sources)
        # capture.concurrency, shared out between this process and its workers.
        parties = len(shares) + (1 if here else 0)
        concurrency = max(1, self.settings.capture.concurrency // max(parties, 1))
        workers = None
        if shares:
            produce = functools.partial(self._produce_share, concurrency=concurrency)
            workers = WorkerSet(shares, produce)
            workers.start()  # before this run starts any thread of its own
        outcomes: list[CaptureOutcome] = []
        # One thread records results: SQLite takes one writer at a time, and writers in
        # several threads would only wait on its lock (with sleeps in between). Captures
        # that finish while it is busy are recorded together, in one transaction.
        self._db_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archiver-db")
        self._recorder = GroupCommit(
            functools.partial(self._record_and_release, taken),
            self._db_writer,
            linger=_WORKER_RESULTS_LINGER if workers is not None else 0.0,
        )
        self._warc_writers = self._warc_pool()
        try:
            async with self.claims.renewing():
                await self._run(here, workers, concurrency, outcomes, progress, should_stop)
        finally:
            if workers is not None:
                workers.close()
            self._warc_writers.shutdown(wait=True)
            self._db_writer.shutdown(wait=True)
            self.claims.release(taken)  # not captured (stopped), or not recorded
        return outcomes

    def _record_and_release(
        self, taken: set[int], items: Sequence[Finished]
    ) -> list[CaptureOutcome | Exception]:
        """Record finished captures (in the database thread), then release their claims:
        recorded, a source is no longer due, so no runner takes it again."""
        results = self._recording.record_batch(items)
        done = {
            i.source.id for i, r in zip(items, results, strict=True) if not isinstance(r, Exception)
        }
        self.claims.release(done & taken)
        taken.difference_update(done)
        return results

    def _plan(self, sources: Sequence[DueSource]) -> tuple[list[list[DueSource]], list[DueSource]]:
        """Shares for worker processes (plain HTTP only, whole hosts) and the rest."""
        count = worker_count(self.settings.capture.workers)
        if count < 2 or not can_fork():
            return [], list(sources)
        modes, wanted = self.settings.capture.modes, self.settings.platforms

        def eligible(source: DueSource) -> bool:
            return list(capture_methods(source.kind, modes)) == ["http"] and not platform_steps(
                source.platform, source.kind, wanted
            )

        return plan_shares(sources, workers=count, eligible=eligible)

    @staticmethod
    def _warc_pool() -> ThreadPoolExecutor:
        # WARC writing is gzip and sha256 (which release the GIL) and two fsyncs per file
        # (which wait on the disk, using no core): a few threads per core, so the cores
        # stay busy while some threads wait for the disk.
        return ThreadPoolExecutor(
            max_workers=min(32, 4 * (os.cpu_count() or 2)), thread_name_prefix="archiver-warc"
        )

    @property
    def _spool(self) -> Path:
        """Where response bodies past 1 MiB wait for their WARC file."""
        return self.settings.storage.root / "tmp"

    def _fetcher(self) -> Fetcher:
        return Fetcher(
            self.settings.network, self.settings.capture, spool_dir=self._spool, clock=self.clock
        )

    async def _run(
        self,
        sources: Sequence[DueSource],
        workers: WorkerSet | None,
        concurrency: int,
        outcomes: list[CaptureOutcome],
        progress: Callable[[CaptureOutcome], None] | None,
        should_stop: Callable[[], bool],
    ) -> None:
        async def record(finished: Finished) -> None:
            outcome = await self._recorder.submit(finished)
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)

        async def from_workers() -> None:
            assert workers is not None
            recording = [asyncio.create_task(record(f)) async for f in workers.finished()]
            await asyncio.gather(*recording)

        gate = asyncio.Semaphore(concurrency)
        async with contextlib.AsyncExitStack() as stack:
            stopping = await stack.enter_async_context(stop_event(should_stop))
            fetcher = await stack.enter_async_context(self._fetcher())
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
            backlog = asyncio.Semaphore(concurrency * 4)

            async def one(source: DueSource) -> None:
                async with backlog:
                    # Stopping, or our claim was lost (this process stalled past it).
                    if should_stop() or not self.claims.holds(source.id):
                        return
                    try:
                        finished = await self._produce(source, fetcher, browser, gate, stopping)
                    except Stopped:
                        return  # abandoned: nothing written, nothing recorded
                    await record(finished)

            jobs = [one(s) for s in sources]
            await asyncio.gather(*jobs, *([from_workers()] if workers is not None else []))

    async def _produce_share(
        self, share: Sequence[DueSource], send: Send, *, concurrency: int
    ) -> None:
        """A worker process's part of the run: capture ``share`` (plain HTTP), write each
        WARC file and ``send`` its summary to the parent, which records it."""
        self._warc_writers = self._warc_pool()
        gate = asyncio.Semaphore(concurrency)
        backlog = asyncio.Semaphore(concurrency * 4)  # as in _run
        try:
            async with self._fetcher() as fetcher:

                async def one(source: DueSource) -> None:
                    async with backlog:
                        stop_if_orphaned()  # nobody would record it: stop instead
                        send(await self._produce(source, fetcher, None, gate))

                await asyncio.gather(*(one(s) for s in share))
        finally:
            self._warc_writers.shutdown(wait=True)

    async def _produce(
        self,
        source: DueSource,
        fetcher: Fetcher,
        browser: BrowserPool | None,
        gate: asyncio.Semaphore,
        stopping: asyncio.Event | None = None,
    ) -> Finished:
        """Capture one source and write its WARC file; what failed is recorded too.
        Raises :class:`Stopped` when ``stopping`` is set before the file is complete."""
        exchanges: list[Exchange] = []
        workdirs: list[Path] = []

        async def network() -> CaptureInput:
            async with gate:
                capture = await self._observe(source, fetcher, browser, exchanges)
                return await self._platform(source, capture, fetcher, exchanges, workdirs)

        try:
            capture = await bounded(network(), should_stop=stopping)
            written = await asyncio.get_running_loop().run_in_executor(
                self._warc_writers, functools.partial(self._write, capture, stopping)
            )
            # Only now, with its WARC file sealed, may the snapshot's row be written.
            return Finished(source, written)
        except (Stopped, SnapshotAbandoned) as exc:
            log.debug("capture of source %d (%s) abandoned: stopping", source.id, source.url)
            raise Stopped() from exc
        except StoreError as exc:
            # The bucket refused the WARC or did not answer, the disk is full: the
            # message says what and where (docs/storage.md, "Faults"), no traceback.
            log.error("capture of source %d (%s) failed: %s", source.id, source.url, exc)
            return Finished(source, error=error_text(exc))
        except Exception as exc:
            log.exception("capture of source %d (%s) failed", source.id, source.url)
            return Finished(source, error=error_text(exc))
        finally:
            for exchange in exchanges:
                exchange.close()
            for workdir in workdirs:  # sealed in the WARC by now, or not wanted
                shutil.rmtree(workdir, ignore_errors=True)

    def _secrets(self) -> Secrets:
        session = self._platforms.session_for("facebook") if self._platforms else None
        if session is None:
            return self._settings_secrets
        if self._with_session is None or self._with_session[0] is not session:
            self._with_session = (session, self._settings_secrets | session.secrets)
        return self._with_session[1]

    def _write(self, capture: CaptureInput, stopping: asyncio.Event | None) -> WrittenSnapshot:
        """The WARC file (in a WARC thread), and the manifest its seal will sign; given
        up once ``stopping`` is set (a flag read from this thread)."""
        written = write_snapshot(
            self.settings.storage.root,
            capture,
            clock=self.clock,
            id_factory=self.id_factory,
            captured_by=self._captured_by,
            max_bytes=self.settings.capture.max_snapshot_bytes,
            compress_level=self.settings.capture.warc_compression_level,
            secrets=self._secrets(),
            abandoned=None if stopping is None else stopping.is_set,
        )
        # With storage.warc_url: into the bucket, checked, before any row names it.
        publish(
            open_store(self.settings), self.settings.storage.root, written.relpath.as_posix(),
            sha256=written.sha256, size=written.size,
        )  # fmt: skip
        return written if self.sealer is None else self.sealer.prepare(written)

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
            chain = await fetcher.fetch_chain(source.fetch_url, deadline=time.monotonic() + budget)
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
            page = await self._browse(source.fetch_url, fetcher, browser, budget, source.platform)
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
        # Platforms (issue 4): the operator's Facebook session, when one is configured.
        platforms = self._platforms
        session = platforms.session_for(platform) if platforms is not None else None
        # The pool exists whenever a due source's methods include the browser. The page
        # budget starts once a Chromium is free for this page (archiver.capture.browser);
        # politeness spaces its page loads, not its own requests (_browser_fetch).
        assert browser is not None
        return await browser.capture_page(
            url,
            page_fetch(fetcher),
            budget=budget,
            operator_session=session,
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
            source.fetch_url, source.platform, source.kind, capture,
            fetch_image=fetch_image, spool=self._spool,
            exchanges=exchanges, workdirs=workdirs, fetcher=fetcher,
        )  # fmt: skip
