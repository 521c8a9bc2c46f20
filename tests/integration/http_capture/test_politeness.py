"""Politeness against the simulated web: a slow host holds up nobody else; a host that
says Retry-After gets its pause."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from archiver.capture.exchange import FailureKind
from tests.integration.http_capture.conftest import make_fetcher
from tests.simweb import SimulatedWeb, status


async def test_a_slow_host_does_not_hold_up_another(simweb: SimulatedWeb, tmp_path: Path) -> None:
    """Told by events, not by the clock: the slow host answers only once every fast page
    has come back (and each of its requests has waited 0.5 s). A fetcher that held the
    fast host up behind it would leave them waiting for each other until the slow host
    gives up (8 s, within the fetcher's timeout), and the order of the answers would
    show it."""
    fast_done = threading.Event()
    slow_in_flight = slow_peak = 0

    async def slow(request: object) -> str:
        nonlocal slow_in_flight, slow_peak
        slow_in_flight += 1
        slow_peak = max(slow_peak, slow_in_flight)
        await asyncio.sleep(0.5)
        for _ in range(150):
            if fast_done.is_set():
                break
            await asyncio.sleep(0.05)
        slow_in_flight -= 1
        return "slow"

    for i in range(4):
        simweb.page(f"https://slow.example/{i}", slow)
    for i in range(20):
        simweb.page(f"https://fast.example/{i}", "fast")
    answered: list[str] = []
    async with make_fetcher(tmp_path, simweb, per_host_concurrency=2) as fetcher:

        async def get(url: str, kind: str) -> None:
            exchange = await fetcher.fetch(url)
            assert exchange.ok, exchange.failure
            answered.append(kind)
            if answered.count("fast") == 20:
                fast_done.set()

        await asyncio.gather(
            *(get(f"https://slow.example/{i}", "slow") for i in range(4)),
            *(get(f"https://fast.example/{i}", "fast") for i in range(20)),
        )
    assert answered == ["fast"] * 20 + ["slow"] * 4
    assert slow_peak == 2  # two at a time, while the slow host made them wait


async def test_per_host_concurrency_is_respected(simweb: SimulatedWeb, tmp_path: Path) -> None:
    in_flight = 0
    peak = 0

    async def handler(request: object) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        # Hold the answers until three requests have been in flight at once (5 s at
        # most), so that the peak does not depend on how fast a loaded machine sends.
        for _ in range(100):
            if peak >= 3:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return "ok"

    simweb.page("http://busy.example/", handler)
    async with make_fetcher(tmp_path, simweb, per_host_concurrency=3) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch("http://busy.example/") for _ in range(12)))
    assert all(r.ok for r in results)
    assert peak == 3


async def test_retry_after_defers_the_host_only(simweb: SimulatedWeb, tmp_path: Path) -> None:
    # Retry-After: 4 s, so that what happens before it ends does not race a loaded
    # machine; each check compares with the deferral's end or the request's own deadline.
    simweb.page("https://www.facebook.com/x", status(429, headers={"Retry-After": "4"}))
    simweb.page("https://www.facebook.com/y", "later")
    simweb.page("https://news.example/", "now")
    async with make_fetcher(tmp_path, simweb) as fetcher:
        limited = await fetcher.fetch("https://www.facebook.com/x")
        assert limited.ok and limited.status == 429  # the answer itself is the result
        until = fetcher.limiter.deferred_until("www.facebook.com")
        assert until is not None

        other = await fetcher.fetch("https://news.example/")
        assert other.ok and time.monotonic() < until  # not held until the deferral ends
        assert fetcher.limiter.deferred_until("news.example") is None

        hurried_deadline = until - 1.0
        hurried = await fetcher.fetch("https://www.facebook.com/y", deadline=hurried_deadline)
        assert hurried.failure is not None and hurried.failure.kind is FailureKind.TIMEOUT
        assert "Retry-After" in hurried.failure.message
        # Refused at once, not after waiting for its deadline; and never sent.
        assert time.monotonic() < hurried_deadline
        assert simweb.hits("https://www.facebook.com/y") == 0

        patient = await fetcher.fetch("https://www.facebook.com/y")
        assert patient.ok and time.monotonic() >= until
    assert simweb.hits("https://www.facebook.com/x") == 1  # a 429 is never retried
    assert simweb.hits("https://www.facebook.com/y") == 1
