"""Per-host politeness: how many requests a host gets at once, and how often.

A capture run fans out over hundreds of sources; many of them sit on the same few news
sites and platforms. Hammering one of them gets the archiver rate-limited or banned
(a 429 or a bot wall is never evidence of anything), so every request, from the plain
fetcher and from the browser alike, takes a slot from one shared :class:`HostLimiter`:

- at most ``concurrency`` requests in flight per host;
- at least ``interval`` seconds between two request starts to one host;
- after a 429/503 with ``Retry-After`` the host is deferred (capped at ``max_defer``):
  later requests to it wait, requests to other hosts never do.

That spacing is for page loads: a plain capture's requests and a browser's navigations.
What one page load asks for besides its own document (images, scripts, styles, fonts,
XHR, iframes) a reader's browser fetches at once, so those take a slot from the page's
:class:`PageResources` instead: at most :data:`PAGE_CONNECTIONS_PER_HOST` at once per
host, as Chromium itself bounds them, without the interval, but still after a host's
Retry-After.

Waiting is per host: a slow or deferred host costs its own requests time, nobody else's.
The clock and sleep are injectable so the ordering can be tested without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

from archiver.config import CaptureSettings
from archiver.errors import NetworkError

log = logging.getLogger(__name__)

MAX_DEFER = 3600.0  # a Retry-After longer than this is treated as this long
# Connections a browser opens to one host for one page (Chromium's own limit per host).
PAGE_CONNECTIONS_PER_HOST = 6

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class HostBusyError(NetworkError):
    """The host's politeness wait would end after the caller's deadline."""


class Slots(Protocol):
    """What a request takes its turn from: :class:`HostLimiter` or :class:`PageResources`."""

    def slot(
        self, host: str, *, deadline: float | None = None
    ) -> AbstractAsyncContextManager[None]: ...


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP-date),
    measured from ``now`` (aware UTC); None when the value is neither. A date in the
    past means 0. No cap here: the limiter caps."""
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" per RFC 5322: treat as UTC, as HTTP-dates are
        when = when.replace(tzinfo=now.tzinfo)
    return max(0.0, (when - now).total_seconds())


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    next_start: float = 0.0  # earliest start of the next request (interval)
    deferred_until: float = 0.0  # Retry-After
    users: int = 0  # requests holding or waiting for a slot


class HostLimiter:
    """Slots per host. Use ``async with limiter.slot(host, deadline=...)`` around one
    request (from sending it to the last body byte)."""

    def __init__(
        self,
        concurrency: int,
        interval: float,
        *,
        max_defer: float = MAX_DEFER,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.interval = max(0.0, interval)
        self.max_defer = max_defer
        self._clock = clock
        self._sleep = sleep
        self._hosts: dict[str, _Host] = {}

    @classmethod
    def from_settings(cls, capture: CaptureSettings) -> HostLimiter:
        return cls(capture.per_host_concurrency, capture.per_host_interval)

    def now(self) -> float:
        """This limiter's clock (deadlines are on it)."""
        return self._clock()

    @staticmethod
    def key(host: str) -> str:
        return host.lower().rstrip(".")

    @asynccontextmanager
    async def slot(self, host: str, *, deadline: float | None = None) -> AsyncIterator[None]:
        """Wait for the host's turn, then hold one of its slots. ``deadline`` is on this
        limiter's clock; :class:`HostBusyError` when the turn would come after it."""
        key = self.key(host)
        state = self._state(key)
        state.users += 1
        try:
            await self._acquire(key, state, deadline)
            try:
                await self._wait_turn(key, state, deadline)
                log.debug("turn for %s", key)  # when a request may start (tests read it)
                yield
            finally:
                state.semaphore.release()
        finally:
            state.users -= 1
            self._forget_if_idle(key, state)

    def defer(self, host: str, seconds: float) -> float:
        """No request to ``host`` starts for ``seconds`` (capped at ``max_defer``);
        returns the seconds applied. A shorter deferral never shortens a longer one."""
        applied = min(max(0.0, seconds), self.max_defer)
        key = self.key(host)
        state = self._state(key)
        until = self._clock() + applied
        if until > state.deferred_until:
            state.deferred_until = until
            log.info("deferring requests to %s for %.0f s (Retry-After)", key, applied)
        return applied

    def deferred_until(self, host: str) -> float | None:
        """When the host's deferral ends (limiter clock), or None when it is not deferred."""
        state = self._hosts.get(self.key(host))
        if state is None or state.deferred_until <= self._clock():
            return None
        return state.deferred_until

    def page_resources(self, per_host: int = PAGE_CONNECTIONS_PER_HOST) -> PageResources:
        """Slots for the requests of one page load other than its own document."""
        return PageResources(self, per_host)

    async def wait_deferral(self, host: str, deadline: float | None = None) -> None:
        """Wait until the host's Retry-After has passed; :class:`HostBusyError` at once
        when it ends after ``deadline``. Takes no slot and spaces nothing."""
        key = self.key(host)
        while (state := self._hosts.get(key)) is not None:
            until = state.deferred_until
            now = self._clock()
            if until <= now:
                return
            self._check_deadline(key, state, until, deadline)
            await self._sleep(until - now)

    # -- internals ---------------------------------------------------------------------

    def _state(self, key: str) -> _Host:
        state = self._hosts.get(key)
        if state is None:
            if len(self._hosts) >= 4096:
                self._sweep()
            state = self._hosts[key] = _Host(asyncio.Semaphore(self.concurrency))
        return state

    async def _acquire(self, key: str, state: _Host, deadline: float | None) -> None:
        if deadline is None:
            await state.semaphore.acquire()
            return
        remaining = deadline - self._clock()
        try:
            async with asyncio.timeout(max(0.0, remaining)):
                await state.semaphore.acquire()
        except TimeoutError:
            raise HostBusyError(
                f"{key}: no free connection slot ({self.concurrency} in use) before the deadline"
            ) from None

    async def _wait_turn(self, key: str, state: _Host, deadline: float | None) -> None:
        now = self._clock()
        start = max(now, state.next_start, state.deferred_until)
        # Reserve the start time before sleeping, so that concurrent waiters line up
        # one interval apart instead of all waking at the same moment.
        self._check_deadline(key, state, start, deadline)
        state.next_start = start + self.interval
        while start > now:
            await self._sleep(start - now)
            now = self._clock()
            if state.deferred_until > start:  # a Retry-After arrived while we slept
                start = state.deferred_until
                self._check_deadline(key, state, start, deadline)
                state.next_start = max(state.next_start, start + self.interval)

    def _check_deadline(self, key: str, state: _Host, start: float, deadline: float | None) -> None:
        if deadline is not None and start > deadline:
            why = "Retry-After" if state.deferred_until >= start else "per-host interval"
            raise HostBusyError(
                f"{key}: next request allowed in {start - self._clock():.1f} s ({why}), "
                "after the deadline"
            )

    def _forget_if_idle(self, key: str, state: _Host) -> None:
        if state.users == 0 and max(state.next_start, state.deferred_until) <= self._clock():
            self._hosts.pop(key, None)

    def _sweep(self) -> None:
        now = self._clock()
        for key, state in list(self._hosts.items()):
            if state.users == 0 and max(state.next_start, state.deferred_until) <= now:
                del self._hosts[key]


class PageResources:
    """Slots for what one page load asks for besides its own document.

    A reader's browser fetches a page's images, scripts and styles at once, a few
    connections per host: so do these, at most ``per_host`` requests in flight per host
    for this page (the page's resource budget, ``capture.max_resources``, is the
    router's), without the per-host interval or concurrency that space a crawler's page
    loads. A host's Retry-After still holds: its requests wait until it has passed, or
    fail at once (:class:`HostBusyError`) when it ends after their deadline.
    """

    def __init__(self, limiter: HostLimiter, per_host: int = PAGE_CONNECTIONS_PER_HOST) -> None:
        if per_host < 1:
            raise ValueError("per_host must be at least 1")
        self.limiter = limiter
        self.per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def slot(self, host: str, *, deadline: float | None = None) -> AsyncIterator[None]:
        key = self.limiter.key(host)
        semaphore = self._hosts.get(key)
        if semaphore is None:
            semaphore = self._hosts[key] = asyncio.Semaphore(self.per_host)
        remaining = None if deadline is None else max(0.0, deadline - self.limiter.now())
        try:
            async with asyncio.timeout(remaining):
                await semaphore.acquire()
        except TimeoutError:
            raise HostBusyError(
                f"{key}: no free connection slot ({self.per_host} in use by this page) "
                "before the deadline"
            ) from None
        try:
            await self.limiter.wait_deferral(key, deadline)
            yield
        finally:
            semaphore.release()
