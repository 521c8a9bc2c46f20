"""Plain-HTTP captures in worker processes, so a large run uses every core.

One Python process runs Python code on one core at a time (the GIL). A plain-HTTP
capture is mostly Python work around C (reading the response, building records,
gzip and sha256, file calls), so one process archives about one core's worth of pages
however many threads it has. A large run therefore forks ``capture.workers`` processes
(default: one per core):

- each worker gets whole hosts, a host together with its ``www.`` and mobile aliases
  (:func:`plan_shares`, :func:`archiver.net.sites.alias_group`), so per-host
  concurrency, the minimum interval and Retry-After hold as in one process, also across
  the usual redirects (to ``www.``, to the mobile site). A redirect to an unrelated host
  (a link shortener's, another subdomain) is followed by the worker that got the cited
  URL: that host's limits are then counted per worker;
- only sources captured by plain HTTP alone go to workers; browser and platform
  captures (a Chromium, yt-dlp) stay in the parent, with every source of their host;
- a worker fetches and writes each WARC file (atomically, as always) and sends back
  the small :class:`~archiver.capture.recording.Finished` summary through a pipe; the
  parent records it, so the database still has one writer and sealing, custody and
  progress work as before;
- a worker that dies (killed, out of memory) loses nothing recorded: each of its
  sources it had not reported is recorded as a failed attempt and retried later, and a
  WARC file it finished but could not report is found by ``archiver verify``;
- a worker never outlives its parent (:func:`die_with_parent`, :func:`stop_if_orphaned`):
  with nobody left to record its files, every WARC it wrote would be one no snapshot
  refers to, and its source would be captured again by the next run.

Workers are forked (not spawned): a child starts with everything already imported, in
milliseconds. A process with other threads running (the daemon: scheduler, web
server) is never forked, since a lock held by another thread at the fork stays locked
forever in the child; it captures in-process (:func:`can_fork`).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection

from archiver.capture.recording import DueSource, Finished
from archiver.net.sites import alias_group_of_url

# Fewer sources than this per worker are not worth a process (and its WARC threads).
MIN_SOURCES_PER_WORKER = 16
# The exit status of a worker that stopped because its parent was gone.
ORPHANED_EXIT = 75
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# In a worker: the process that forked it (None in any other process).
_parent_pid: int | None = None

Send = Callable[[Finished], None]
Produce = Callable[[Sequence[DueSource], Send], Coroutine[object, object, None]]


def worker_count(setting: int) -> int:
    """``capture.workers``: 0 means one per core this process may run on (a container's
    or ``taskset``'s limit, not the machine's count)."""
    if setting:
        return setting
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no sched_getaffinity on this platform
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Forking is safe only while this process runs no other thread."""
    return hasattr(os, "fork") and threading.active_count() == 1


def plan_shares(
    sources: Sequence[DueSource],
    *,
    workers: int,
    eligible: Callable[[DueSource], bool],
    min_per_worker: int = MIN_SOURCES_PER_WORKER,
) -> tuple[list[list[DueSource]], list[DueSource]]:
    """Split ``sources`` into shares for worker processes and the rest, captured here.

    A host (with its aliases) goes to a worker only if every one of its sources is
    ``eligible``; hosts are dealt largest first to the least loaded worker. Fewer than two workers' worth of
    eligible sources: everything stays here. Order within a share follows ``sources``.
    """
    by_host: dict[str, list[DueSource]] = {}
    for source in sources:
        by_host.setdefault(alias_group_of_url(source.url), []).append(source)
    movable = {host for host, group in by_host.items() if all(eligible(s) for s in group)}
    count = sum(len(by_host[host]) for host in movable)
    workers = min(workers, count // max(min_per_worker, 1), len(movable))
    if workers < 2:
        return [], list(sources)
    loads = [0] * workers
    assigned: dict[str, int] = {}
    for host in sorted(movable, key=lambda h: (-len(by_host[h]), h)):
        lightest = loads.index(min(loads))
        assigned[host] = lightest
        loads[lightest] += len(by_host[host])
    shares: list[list[DueSource]] = [[] for _ in range(workers)]
    here: list[DueSource] = []
    for source in sources:
        index = assigned.get(alias_group_of_url(source.url))
        (here if index is None else shares[index]).append(source)
    return shares, here


def die_with_parent(parent: int) -> None:
    """In a worker just forked by ``parent``: be killed the moment the parent dies, and
    stop at once if it already has.

    Linux sends SIGKILL on the parent's death (``PR_SET_PDEATHSIG``). SIGKILL rather
    than SIGTERM: it cannot be caught, blocked or delayed by a thread holding the GIL,
    so a worker stuck anywhere (a full pipe, a C call) still goes, at once. It costs
    nothing in the files: a WARC appears under its final name only complete (written
    under a temporary name, fsynced, then linked), so a kill mid-file leaves at most a
    ``.part`` file, which ``archiver verify --store`` reports. The parent may have died
    between the fork and the ``prctl`` call, which would then never fire: hence the
    check of ``getppid()`` after it (a dead parent's children are adopted by another
    process). Elsewhere, the same check before each capture and each result sent
    (:func:`stop_if_orphaned`) is all there is.

    The signal follows the parent *thread* that forked: workers are forked only by a
    process running no other thread (:func:`can_fork`), i.e. by its main thread.
    """
    global _parent_pid
    _parent_pid = parent
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(
                ctypes.c_int(_PR_SET_PDEATHSIG),
                ctypes.c_ulong(signal.SIGKILL),
                ctypes.c_ulong(0),
                ctypes.c_ulong(0),
                ctypes.c_ulong(0),
            )
        except (OSError, AttributeError):  # no prctl: the checks below still hold
            pass
    stop_if_orphaned()


def stop_if_orphaned() -> None:
    """In a worker whose parent is gone: exit now (``ORPHANED_EXIT``), before starting a
    capture or writing to a pipe nobody reads. Does nothing in any other process."""
    if _parent_pid is not None and os.getppid() != _parent_pid:
        os._exit(ORPHANED_EXIT)


def _child(share: Sequence[DueSource], produce: Produce, conn: Connection, parent: int) -> None:
    die_with_parent(parent)
    # Ctrl-C reaches the whole process group: the parent decides (it stops us with
    # SIGTERM when its run is interrupted), so a worker does not die mid-file on its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Forked from inside the parent's running event loop: forget it, start our own.
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop_policy(None)

    try:
        # Results are written to the pipe on the worker's event loop: a few kilobytes
        # that the parent's reader thread takes at once. If the parent falls behind,
        # the pipe fills and this worker waits for it, which is the backpressure wanted
        # (a thread hop per capture cost more than the write).
        def send(finished: Finished) -> None:
            stop_if_orphaned()
            conn.send(finished)

        asyncio.run(produce(share, send))
    finally:
        conn.close()


class WorkerSet:
    """Worker processes for some shares of a run. ``start()`` forks them;
    ``finished()`` yields every source's :class:`Finished`, as they arrive."""

    def __init__(self, shares: Sequence[Sequence[DueSource]], produce: Produce) -> None:
        self.shares = [list(share) for share in shares]
        self._produce = produce
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._conns: list[Connection] = []

    def start(self) -> None:
        context = multiprocessing.get_context("fork")
        # Whatever sits in our stdio buffers would be written again by each child.
        sys.stdout.flush()
        sys.stderr.flush()
        if sys.platform.startswith("linux"):
            import ctypes  # noqa: F401 - for die_with_parent: imported once, not per child
        # Objects alive now are shared with the children copy-on-write; a collection in
        # a child would write to every one of them (and copy its page) unless frozen.
        # The children keep them frozen; this process collects them again afterwards.
        gc.freeze()
        try:
            self._fork_all(context)
        finally:
            gc.unfreeze()

    def _fork_all(self, context: multiprocessing.context.ForkContext) -> None:
        parent = os.getpid()
        for index, share in enumerate(self.shares):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(
                target=_child,
                args=(share, self._produce, send, parent),
                name=f"archiver-capture-{index}",
                daemon=True,
            )
            process.start()
            send.close()  # the child's end; EOF reaches us when the child is gone
            self._processes.append(process)
            self._conns.append(receive)

    async def finished(self) -> AsyncIterator[Finished]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Finished | int] = asyncio.Queue()

        def read(index: int) -> None:
            conn = self._conns[index]
            try:
                while True:
                    item = conn.recv()
                    loop.call_soon_threadsafe(queue.put_nowait, item)
            except (EOFError, OSError):
                pass  # the worker finished, or died: finished() works out which
            finally:
                # Its exit code, waited for here rather than on the event loop.
                self._processes[index].join(timeout=5)
                loop.call_soon_threadsafe(queue.put_nowait, index)

        readers = ThreadPoolExecutor(
            max_workers=len(self._conns), thread_name_prefix="archiver-worker-pipe"
        )
        try:
            for index in range(len(self._conns)):
                readers.submit(read, index)
            reported: set[int] = set()
            open_workers = len(self._conns)
            while open_workers:
                item = await queue.get()
                if isinstance(item, Finished):
                    reported.add(item.source.id)
                    yield item
                    continue
                open_workers -= 1
                for lost in self._lost(item, reported):
                    yield lost
        finally:
            readers.shutdown(wait=False)

    def _lost(self, index: int, reported: set[int]) -> list[Finished]:
        """A Finished with an error for each source of worker ``index`` it never
        reported (none when it ended normally)."""
        missing = [s for s in self.shares[index] if s.id not in reported]
        if not missing:
            return []
        code = self._processes[index].exitcode
        why = f"capture worker {index} ended (exit code {code}) before reporting this source"
        return [Finished(source, error=f"WorkerLost: {why}") for source in missing]

    def close(self) -> None:
        """Stop workers that are still running (the run failed or was interrupted)."""
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join(timeout=5)
        for conn in self._conns:
            conn.close()
