"""The per-host limiter on a fake clock: exact start times, no real waiting."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from archiver.net.politeness import HostBusyError, HostLimiter


class FakeTime:
    """A clock that jumps to the next sleeper's wake-up once every task is blocked."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), future))
        await future

    async def run(self, *coros: Awaitable[Any]) -> list[Any]:
        tasks = [asyncio.ensure_future(c) for c in coros]
        while True:
            for _ in range(50):  # let every runnable task run until it blocks
                await asyncio.sleep(0)
            if all(t.done() for t in tasks):
                return [t.result() for t in tasks]
            if not self._sleepers:
                raise AssertionError("tasks blocked with nobody sleeping: deadlock")
            when, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            future.set_result(None)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def limiter(fake: FakeTime, concurrency: int = 1, interval: float = 0.0) -> HostLimiter:
    return HostLimiter(concurrency, interval, clock=fake.clock, sleep=fake.sleep)


def request(
    lim: HostLimiter, fake: FakeTime, host: str, log: list[tuple[str, float]], hold: float = 0.0
) -> Callable[[], Awaitable[None]]:
    async def go() -> None:
        async with lim.slot(host):
            log.append((host, fake.now))
            if hold:
                await fake.sleep(hold)

    return go


async def test_interval_spaces_starts_to_one_host(fake: FakeTime) -> None:
    lim = limiter(fake, concurrency=4, interval=10)
    log: list[tuple[str, float]] = []
    await fake.run(*(request(lim, fake, "a.example", log)() for _ in range(4)))
    assert [t for _, t in log] == [0, 10, 20, 30]


async def test_a_slow_host_never_delays_another(fake: FakeTime) -> None:
    lim = limiter(fake, concurrency=1, interval=60)
    log: list[tuple[str, float]] = []
    jobs = [request(lim, fake, "slow.example", log)() for _ in range(5)]
    jobs += [request(lim, fake, f"fast{i}.example", log)() for i in range(20)]
    await fake.run(*jobs)
    assert [t for h, t in log if h == "slow.example"] == [0, 60, 120, 180, 240]
    assert all(t == 0 for h, t in log if h.startswith("fast"))


async def test_concurrency_bounds_requests_in_flight(fake: FakeTime) -> None:
    lim = limiter(fake, concurrency=2)
    log: list[tuple[str, float]] = []
    await fake.run(*(request(lim, fake, "a.example", log, hold=5)() for _ in range(5)))
    assert [t for _, t in log] == [0, 0, 5, 5, 10]


async def test_hosts_are_case_insensitive(fake: FakeTime) -> None:
    lim = limiter(fake, concurrency=1, interval=10)
    log: list[tuple[str, float]] = []
    await fake.run(
        request(lim, fake, "News.Example", log)(), request(lim, fake, "news.example.", log)()
    )
    assert [t for _, t in log] == [0, 10]


async def test_defer_holds_later_requests_and_is_capped(fake: FakeTime) -> None:
    lim = limiter(fake, concurrency=2)
    assert lim.defer("a.example", 30) == 30
    assert lim.deferred_until("a.example") == 30
    assert lim.deferred_until("b.example") is None
    log: list[tuple[str, float]] = []
    await fake.run(request(lim, fake, "a.example", log)(), request(lim, fake, "b.example", log)())
    assert sorted(log) == [("a.example", 30), ("b.example", 0)]
    assert lim.defer("a.example", 10**9) == 3600  # capped
    assert lim.defer("a.example", 5) == 5  # applied, but does not shorten the longer one
    assert lim.deferred_until("a.example") == fake.now + 3600


async def test_a_deferral_during_the_wait_is_honoured(fake: FakeTime) -> None:
    lim = limiter(fake, concurrency=1, interval=10)
    log: list[tuple[str, float]] = []

    async def first() -> None:
        async with lim.slot("a.example"):
            log.append(("first", fake.now))
            lim.defer("a.example", 100)  # e.g. this request got a 429 Retry-After: 100

    await fake.run(first(), request(lim, fake, "a.example", log)())
    assert log == [("first", 0), ("a.example", 100)]


async def test_deadline_before_the_turn_fails_fast(fake: FakeTime) -> None:
    lim = limiter(fake, concurrency=1)
    lim.defer("a.example", 600)

    async def late() -> str:
        try:
            async with lim.slot("a.example", deadline=60):
                return "ran"
        except HostBusyError as exc:
            return f"busy at {fake.now}: {exc}"

    (outcome,) = await fake.run(late())
    assert outcome.startswith("busy at 0.0: a.example: next request allowed in 600.0 s")
    assert "Retry-After" in outcome


async def test_idle_hosts_are_forgotten(fake: FakeTime) -> None:
    lim = limiter(fake, concurrency=2, interval=0)
    log: list[tuple[str, float]] = []
    await fake.run(*(request(lim, fake, f"h{i}.example", log)() for i in range(50)))
    assert lim._hosts == {}
