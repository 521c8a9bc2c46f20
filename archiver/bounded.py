"""Bounded work: a total deadline for an exchange, and a prompt stop.

httpx and smtplib timeouts bound each read, not the exchange: a server that sends one
byte every few seconds keeps a request going for ever. :func:`run_bounded` runs a
coroutine on an event loop of its own and ends it at a total deadline, or as soon as
``should_stop()`` says the process is stopping; :func:`unless_stopped` does the latter
inside a running loop. ``archiver run`` abandons what is in flight that way on SIGTERM
(captures, checks, timestamp requests, notifications: each is done again later), and
:func:`exit_after` is its last resort: work that cannot be interrupted (a thread in a
C call, yt-dlp) does not hold the process beyond its stop deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

# How often ``should_stop`` is asked while waiting.
STOP_POLL = 0.1
# What :func:`exit_after` gives its last clean-up.
LAST_WORDS = 1.0


class Stopped(Exception):
    """The work was abandoned because the process is stopping. Not a failure: nothing
    of it was recorded, and it is done again later."""


Stop = Callable[[], bool] | asyncio.Event


async def bounded(
    work: Awaitable[T],
    *,
    deadline: float | None = None,
    should_stop: Stop | None = None,
) -> T:
    """Await ``work``; raise :class:`TimeoutError` when it is not done ``deadline``
    seconds from now, :class:`Stopped` as soon as the process stops: ``should_stop``
    is an event that is set then, or a callable asked every :data:`STOP_POLL` seconds
    (and first of all). Either way ``work`` is cancelled, and its clean-up (its
    ``finally`` blocks) has run before this raises."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    ends = None if deadline is None else loop.time() + deadline
    event = should_stop if isinstance(should_stop, asyncio.Event) else None
    ask = should_stop if not isinstance(should_stop, asyncio.Event) else None
    stopped = asyncio.ensure_future(event.wait()) if event is not None else None
    waiting = {task} if stopped is None else {task, stopped}
    try:
        while True:
            if task.done():
                return task.result()
            if (event is not None and event.is_set()) or (ask is not None and ask()):
                raise Stopped()
            wait = None if ask is None else STOP_POLL
            if ends is not None:
                left = ends - loop.time()
                if left <= 0:
                    raise TimeoutError(f"not done within {deadline:g}s")
                wait = left if wait is None else min(wait, left)
            await asyncio.wait(waiting, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if stopped is not None:
            stopped.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def stop_event(should_stop: Callable[[], bool]) -> AsyncIterator[asyncio.Event]:
    """An event set once ``should_stop()`` is true (asked every :data:`STOP_POLL`
    seconds while the block runs): one question for any number of waiters."""
    event = asyncio.Event()

    async def watch() -> None:
        while not should_stop():
            await asyncio.sleep(STOP_POLL)
        event.set()

    task = asyncio.create_task(watch())
    try:
        yield event
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def unless_stopped(work: Awaitable[T], should_stop: Stop) -> T:
    """Await ``work`` unless the process stops first (:class:`Stopped`)."""
    return await bounded(work, should_stop=should_stop)


class PrivateLoop:
    """An event loop of its own, for a blocking caller (a thread, the CLI) that makes
    several bounded calls sharing something that lives on a loop, such as an HTTP
    client's connections. One call at a time; :meth:`close` at the end."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(
        self,
        make: Callable[[], Coroutine[Any, Any, T]],
        *,
        deadline: float | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> T:
        """Run the coroutine ``make()`` to its end, at most ``deadline`` seconds
        (:class:`TimeoutError`), and not once ``should_stop()`` is true
        (:class:`Stopped`); see :func:`bounded`."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        loop = self._loop

        def call() -> T:
            return loop.run_until_complete(
                bounded(make(), deadline=deadline, should_stop=should_stop)
            )

        return _off_any_running_loop(call)

    def close(self, last: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        """Run ``last()`` (closing what lives on the loop), then close the loop; what is
        still pending on it is cancelled."""
        loop, self._loop = self._loop, None
        if loop is None:
            return

        def end() -> None:
            try:
                if last is not None:
                    with contextlib.suppress(Exception):
                        loop.run_until_complete(asyncio.wait_for(last(), 5))
                leftover = [task for task in asyncio.all_tasks(loop) if not task.done()]
                for task in leftover:
                    task.cancel()
                if leftover:
                    loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

        _off_any_running_loop(end)


def _off_any_running_loop(call: Callable[[], T]) -> T:
    """``call()`` here, or in a thread of its own when this thread runs an event loop
    (which would refuse to run another)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    with ThreadPoolExecutor(1, thread_name_prefix="bounded") as pool:
        return pool.submit(call).result()


def run_bounded(
    make: Callable[[], Coroutine[Any, Any, T]],
    *,
    deadline: float,
    should_stop: Callable[[], bool] | None = None,
) -> T:
    """Run the coroutine ``make()`` on an event loop of its own within ``deadline``
    seconds, all included (:class:`TimeoutError` after that), and not once
    ``should_stop()`` is true (:class:`Stopped`). For blocking callers."""
    loop = PrivateLoop()
    try:
        return loop.run(make, deadline=deadline, should_stop=should_stop)
    finally:
        loop.close()


def exit_after(
    seconds: float, reason: str, *, last: Callable[[], None] | None = None
) -> threading.Timer:
    """Exit the process with status 0 in ``seconds`` unless it has ended by then: the
    last resort of a stop that must keep its deadline (a daemon thread, so a process
    that ends sooner is not held by it). Logs what was still running, runs ``last()``
    (given at most :data:`LAST_WORDS` seconds), then exits."""

    def force() -> None:
        running = sorted(
            t.name for t in threading.enumerate() if t is not threading.current_thread()
        )
        log.warning(
            "%s: not stopped within %g s; exiting now, abandoning what is still running "
            "(threads: %s); it is done again after the restart",
            reason,
            seconds,
            ", ".join(running) or "none",
        )
        if last is not None:
            worker = threading.Thread(target=_logged, args=(last,), daemon=True)
            worker.start()
            worker.join(LAST_WORDS)
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):  # exiting anyway
                handler.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    timer = threading.Timer(seconds, force)
    timer.name = "archiver-stop-deadline"
    timer.daemon = True
    timer.start()
    return timer


def _logged(call: Callable[[], None]) -> None:
    try:
        call()
    except Exception:  # exiting anyway: say so, and go
        log.warning("clean-up before exiting failed", exc_info=True)
