"""``archiver worker``: runs the archiver's procrastinate tasks (docs/scale.md).

Any number of them, on any machines, on the queues they are given (all by default):
each takes a task, runs it, and takes the next. A worker captures in its own process
(``capture.workers`` is ignored here: the worker is the unit that scales out).

SIGTERM and SIGINT: the worker takes no new task; the task in hand gets
:data:`FINISH_WITHIN` seconds to end by itself, and is then abandoned the way
``archiver run`` abandons its work (nothing half-done is recorded; the sources it held
are released, stay due, and go to the next task); the process exits with status 0 within
:data:`STOP_WITHIN` seconds whatever happens (the last resort of
:func:`archiver.bounded.exit_after`, releasing this process's claims on the way out).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket

import procrastinate.exceptions
from procrastinate.worker import Worker
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from archiver.app import Archive
from archiver.bounded import exit_after
from archiver.config import Settings
from archiver.queue.outage import connection_lost, one_line_database_errors
from archiver.queue.scheduler import STALLED_HEARTBEATS
from archiver.queue.tasks import RUNTIME, Runtime, build_app, ensure_schema
from archiver.store.leases import release_this_process

log = logging.getLogger(__name__)

# From SIGTERM to the exit, at most (below the 10 s of docker stop).
STOP_WITHIN = 7.5
# Of which the task in hand may use this much to finish by itself.
FINISH_WITHIN = 4.0
# Then procrastinate waits this long for an abandoned task before cancelling it.
ABANDON_GRACE = 2.0


def worker_settings(settings: Settings) -> Settings:
    """A worker's settings: captures in its own process (no forked capture workers)."""
    capture = settings.capture.model_copy(update={"workers": 1})
    return settings.model_copy(update={"capture": capture})


class ArchiverWorker:
    def __init__(self, archive: Archive, queues: list[str], *, concurrency: int = 8) -> None:
        self.archive = archive
        self.queues = queues
        self.concurrency = concurrency
        self._stopping = False
        self._signalled = False
        self._worker: Worker | None = None
        self._keep_alive: asyncio.Task[None] | None = None

    def should_stop(self) -> bool:
        return self._stopping

    def _abandon(self) -> None:
        if not self._stopping:
            log.info("abandoning the task in hand (not finished within %g s)", FINISH_WITHIN)
            self._stopping = True

    def _on_signal(self, name: str) -> None:
        loop = asyncio.get_running_loop()
        if self._worker is None or self._signalled:
            self._abandon()  # a second signal, or still starting: abandon now
            return
        self._signalled = True
        log.info("stopping (%s): no new task; the one in hand may finish", name)
        release = functools.partial(release_this_process, self.archive.db)
        exit_after(STOP_WITHIN, f"archiver worker ({name})", last=release)
        self._worker.stop()  # type: ignore[no-untyped-call]
        loop.call_later(FINISH_WITHIN, self._abandon)
        # procrastinate stops its heartbeat before it waits for the tasks in hand: beat on
        # meanwhile, or the scheduler takes them for stalled and hands them out again.
        self._keep_alive = loop.create_task(self._beat_while_stopping(self._worker))

    async def _beat_while_stopping(self, worker: Worker) -> None:
        interval = self.archive.settings.daemon.worker_heartbeat
        while (worker_id := worker.worker_id) is not None:
            with contextlib.suppress(Exception):  # the next beat tries again
                await worker.app.job_manager.update_heartbeat(worker_id)
            await asyncio.sleep(interval)

    async def _record_queues(self, worker: Worker, name: str) -> None:
        """Note this worker's queues under procrastinate's id for it, once registered
        (for /healthz and /metrics: workers per queue)."""
        while (worker_id := worker.worker_id) is None:
            await asyncio.sleep(0.05)
        try:
            await asyncio.to_thread(record_queues, self.archive, worker_id, name, self.queues)
        except SQLAlchemyError as exc:  # the health counts it for every queue meanwhile
            log.warning("cannot record this worker's queues: %s", type(exc).__name__)

    async def run(self) -> bool:
        """Run until stopped; True when a signal stopped it."""
        settings = self.archive.settings
        await asyncio.to_thread(ensure_schema, self.archive.db)
        app = build_app(settings)
        heartbeat = settings.daemon.worker_heartbeat
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig.name)
        try:
            async with app.open_async():
                name = f"{socket.gethostname()}:{os.getpid()}"
                self._worker = Worker(
                    app,
                    queues=self.queues,
                    name=name,
                    concurrency=self.concurrency,
                    install_signal_handlers=False,
                    # From the stop: the time to finish, then to abandon; then cancelled.
                    shutdown_graceful_timeout=FINISH_WITHIN + ABANDON_GRACE,
                    additional_context={RUNTIME: Runtime(self.archive, self.should_stop)},
                    update_heartbeat_interval=heartbeat,
                    stalled_worker_timeout=heartbeat * STALLED_HEARTBEATS,
                    delete_jobs="successful",
                )
                log.info(
                    "archiver worker started on queues %s (%d at a time)",
                    ",".join(self.queues),
                    self.concurrency,
                )
                recording = loop.create_task(self._record_queues(self._worker, name))
                try:
                    await self._worker.run()  # type: ignore[no-untyped-call]
                finally:
                    recording.cancel()
                    await asyncio.gather(recording, return_exceptions=True)
        finally:
            if self._keep_alive is not None:
                self._keep_alive.cancel()
                await asyncio.gather(self._keep_alive, return_exceptions=True)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        log.info("archiver worker stopped")
        return self._signalled


def record_queues(archive: Archive, worker_id: int, name: str, queues: list[str]) -> None:
    """One row in archiver_worker_queues; none if procrastinate has pruned the worker
    meanwhile (its row gone, this one would have nothing to refer to)."""
    with archive.db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO archiver_worker_queues (worker_id, name, queues) "
                "SELECT :id, :name, CAST(:queues AS text[]) "
                "WHERE EXISTS (SELECT 1 FROM procrastinate_workers WHERE id = :id) "
                "ON CONFLICT (worker_id) DO UPDATE SET queues = excluded.queues"
            ),
            {"id": worker_id, "name": name, "queues": list(queues)},
        )


def run_worker(archive: Archive, queues: list[str], *, concurrency: int = 8) -> None:
    # procrastinate logs every job at INFO: the tasks log what they did themselves.
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    one_line_database_errors()
    # The database gone (PostgreSQL restarted) ends procrastinate's worker: by an error,
    # or by stopping it when its heartbeat or listener failed. Either way the process
    # exits with status 1, for its supervisor to start it again (docs/scale.md, "Faults").
    try:
        signalled = asyncio.run(ArchiverWorker(archive, queues, concurrency=concurrency).run())
    except procrastinate.exceptions.ConnectorException as exc:
        why = connection_lost(exc) or " ".join(str(exc).split())
        log.error("archiver worker stopped: the database connection failed (%s)", why)
        raise SystemExit(1) from None
    if not signalled:
        log.error("archiver worker stopped by itself (its connection to the queue failed)")
        raise SystemExit(1)
