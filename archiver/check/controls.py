"""Control probes: the canaries and our resolver, looked at while a batch is checked.

The canaries (``check.canary_urls``) are fetched through the checks' own
:class:`~archiver.capture.http.Fetcher`, so they take exactly the checks' network path:
the proxy, the address guard, TLS handling. Where host names are resolved on this
machine (no proxy, or ``network.resolve_before_proxy``) our resolver is also asked for
the canaries' names, each time afresh: a pooled keep-alive connection to a canary proves
nothing about the resolver now. Through a proxy the proxy resolves, and a canary's
answer proves that path.

A batch looks twice, at its start (alongside the first probes, so it costs no time)
and at its end; :func:`archiver.check.outage.judge_batch` judges the two rounds. A
run with many batches looks twice per batch, never per source.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit

from archiver.capture.exchange import FailureKind
from archiver.capture.http import Fetcher
from archiver.check.outage import CanarySeen, ControlRound, ResolverSeen
from archiver.config import Settings
from archiver.net.backend import Resolver, system_resolver

log = logging.getLogger(__name__)

FetchCanary = Callable[[str], Awaitable[CanarySeen]]
T = TypeVar("T")


def _names(urls: Sequence[str]) -> tuple[str, ...]:
    """The canaries' host names (IP addresses need no resolver), each once."""
    names: dict[str, None] = {}
    for url in urls:
        host = (urlsplit(url).hostname or "").rstrip(".")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if host:
                names[host] = None
    return tuple(names)


def fetcher_canary(fetcher: Fetcher, budget: float) -> FetchCanary:
    """Fetch one canary through ``fetcher`` (redirects followed, within ``budget``)."""

    async def fetch(url: str) -> CanarySeen:
        chain = await fetcher.fetch_chain(url, deadline=time.monotonic() + budget)
        try:
            last = chain[-1]
            if last.failure is not None:
                return CanarySeen(url, None, last.failure.kind)
            return CanarySeen(url, last.status, None)
        finally:
            for exchange in chain:
                exchange.close()

    return fetch


class ControlProbes:
    def __init__(
        self,
        urls: Sequence[str],
        fetch: FetchCanary,
        *,
        resolve_here: bool,
        resolver: Resolver = system_resolver,
        resolver_timeout: float = 10.0,
    ) -> None:
        self.urls = tuple(urls)
        self._fetch = fetch
        self._names = _names(self.urls) if resolve_here else ()
        self._resolver = resolver
        self._timeout = resolver_timeout

    async def look(self, moment: str) -> ControlRound:
        """Fetch every canary and ask the resolver for their names, all at once."""
        canaries = asyncio.gather(*(self._one(url) for url in self.urls))
        resolved = asyncio.gather(*(self._resolves(name) for name in self._names))
        seen, answers = await asyncio.gather(canaries, resolved)
        resolver = None
        if self._names:
            ok = tuple(n for n, good in zip(self._names, answers, strict=True) if good)
            resolver = ResolverSeen(self._names, ok)
        control = ControlRound(moment, tuple(seen), resolver)
        if control.problem() is not None:
            log.warning("control probes: %s", control.problem())
        return control

    async def _one(self, url: str) -> CanarySeen:
        try:
            return await self._fetch(url)
        except Exception as exc:  # noqa: BLE001 - a broken canary is a failed one, no crash
            log.warning("control probe %s failed: %s: %s", url, type(exc).__name__, exc)
            return CanarySeen(url, None, FailureKind.OTHER)

    async def _resolves(self, name: str) -> bool:
        try:
            answers = await asyncio.wait_for(self._resolver(name, 443), self._timeout)
        except (OSError, TimeoutError, UnicodeError):
            return False
        return bool(answers)


def control_probes(settings: Settings, fetcher: Fetcher) -> ControlProbes | None:
    """The control probes of ``check.canary_urls`` through the checks' ``fetcher``; None
    when none is configured (the outage guard then guesses: archiver.check.outage)."""
    if not settings.check.canary_urls:
        return None
    network = settings.network
    return ControlProbes(
        settings.check.canary_urls,
        fetcher_canary(fetcher, settings.check.probe_budget),
        # Names are resolved here without a proxy, and through one with this setting.
        resolve_here=not network.proxy or network.resolve_before_proxy,
        resolver_timeout=network.timeout,
    )


async def alongside(
    controls: ControlProbes | None, work: Awaitable[T]
) -> tuple[T, list[ControlRound]]:
    """Await ``work`` (a batch's probes) with a control round started beside it and
    another once it is done."""
    if controls is None:
        return await work, []
    start = asyncio.ensure_future(controls.look("start"))
    try:
        done = await work
        return done, [await start, await controls.look("end")]
    finally:
        if not start.done():
            start.cancel()
