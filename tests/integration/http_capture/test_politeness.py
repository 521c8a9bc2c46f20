"""Politeness against the simulated web: a slow host holds up nobody else; a host that
says Retry-After gets its pause."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from archiver.capture.exchange import FailureKind
from tests.integration.http_capture.conftest import make_fetcher
from tests.simweb import SimulatedWeb, status


async def test_a_slow_host_does_not_hold_up_another(simweb: SimulatedWeb, tmp_path: Path) -> None:
    simweb.host("slow.example", latency=1.0)
    for i in range(4):
        simweb.page(f"https://slow.example/{i}", "slow")
    for i in range(20):
        simweb.page(f"https://fast.example/{i}", "fast")
    finished: dict[str, list[float]] = {"slow": [], "fast": []}
    async with make_fetcher(tmp_path, simweb, per_host_concurrency=2) as fetcher:
        started = time.monotonic()

        async def get(url: str, kind: str) -> None:
            exchange = await fetcher.fetch(url)
            assert exchange.ok, exchange.failure
            finished[kind].append(time.monotonic() - started)

        await asyncio.gather(
            *(get(f"https://slow.example/{i}", "slow") for i in range(4)),
            *(get(f"https://fast.example/{i}", "fast") for i in range(20)),
        )
    assert len(finished["fast"]) == 20
    assert max(finished["fast"]) < 0.9 < min(finished["slow"])
    assert max(finished["slow"]) >= 1.9  # two at a time: two rounds of one second


async def test_per_host_concurrency_is_respected(simweb: SimulatedWeb, tmp_path: Path) -> None:
    in_flight = 0
    peak = 0

    async def handler(request: object) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return "ok"

    simweb.page("http://busy.example/", handler)
    async with make_fetcher(tmp_path, simweb, per_host_concurrency=3) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch("http://busy.example/") for _ in range(12)))
    assert all(r.ok for r in results)
    assert peak == 3


async def test_retry_after_defers_the_host_only(simweb: SimulatedWeb, tmp_path: Path) -> None:
    simweb.page("https://www.facebook.com/x", status(429, headers={"Retry-After": "1"}))
    simweb.page("https://www.facebook.com/y", "later")
    simweb.page("https://news.example/", "now")
    async with make_fetcher(tmp_path, simweb) as fetcher:
        limited = await fetcher.fetch("https://www.facebook.com/x")
        assert limited.ok and limited.status == 429  # the answer itself is the result
        assert fetcher.limiter.deferred_until("www.facebook.com") is not None

        started = time.monotonic()
        other = await fetcher.fetch("https://news.example/")
        assert other.ok and time.monotonic() - started < 0.5

        hurried = await fetcher.fetch("https://www.facebook.com/y", deadline=time.monotonic() + 0.3)
        assert hurried.failure is not None and hurried.failure.kind is FailureKind.TIMEOUT
        assert "Retry-After" in hurried.failure.message
        assert time.monotonic() - started < 0.5  # refused at once, not after waiting

        patient = await fetcher.fetch("https://www.facebook.com/y")
        assert patient.ok and time.monotonic() - started >= 0.8
    assert simweb.hits("https://www.facebook.com/x") == 1  # a 429 is never retried
    assert simweb.hits("https://www.facebook.com/y") == 1
