"""A page's own requests on a fake clock (issue 20): bounded per host as a browser bounds
them, never spaced by the interval meant for page loads, still held by a Retry-After."""

from __future__ import annotations

import pytest

from archiver.net.politeness import PAGE_CONNECTIONS_PER_HOST, HostBusyError, HostLimiter
from tests.unit.net.test_politeness import FakeTime, fake  # noqa: F401 - fixture


def defaults(fake: FakeTime) -> HostLimiter:  # noqa: F811
    """The default politeness: 2 page loads per host at once, 0.5 s apart."""
    return HostLimiter(2, 0.5, clock=fake.clock, sleep=fake.sleep)


async def test_thirty_images_of_one_page_go_six_at_a_time_unspaced(
    fake: FakeTime,  # noqa: F811
) -> None:
    lim = defaults(fake)
    page = lim.page_resources()
    started: list[float] = []
    in_flight = peak = 0

    async def image() -> None:
        nonlocal in_flight, peak
        async with page.slot("cdn.example"):
            started.append(fake.now)
            in_flight += 1
            peak = max(peak, in_flight)
            await fake.sleep(1.0)  # each image takes a second to arrive
            in_flight -= 1

    await fake.run(*(image() for _ in range(30)))
    assert PAGE_CONNECTIONS_PER_HOST == 6
    assert peak == 6
    # Five rounds of six, one second each: no 0.5 s interval between starts, and not
    # two at a time (the page-load politeness would have taken 15 s and more).
    assert started == [float(n // 6) for n in range(30)]
    assert fake.now == 5.0


async def test_page_loads_stay_spaced_while_a_page_fetches_its_resources(
    fake: FakeTime,  # noqa: F811
) -> None:
    lim = defaults(fake)
    page = lim.page_resources()
    log: list[tuple[str, float]] = []

    async def load(name: str) -> None:
        async with lim.slot("news.example"):
            log.append((name, fake.now))

    async def resource(n: int) -> None:
        async with page.slot("news.example"):  # the page's own host: not spaced either
            log.append((f"img{n}", fake.now))

    await fake.run(load("page1"), load("page2"), load("page3"), *(resource(n) for n in range(4)))
    loads = [at for name, at in log if name.startswith("page")]
    assert loads == [0.0, 0.5, 1.0]
    assert [at for name, at in log if name.startswith("img")] == [0.0] * 4


async def test_each_page_has_its_own_budget(fake: FakeTime) -> None:  # noqa: F811
    lim = defaults(fake)
    first, second = lim.page_resources(), lim.page_resources()
    in_flight = peak = 0

    async def image(n: int) -> None:
        nonlocal in_flight, peak
        async with (first if n % 2 else second).slot("cdn.example"):
            in_flight += 1
            peak = max(peak, in_flight)
            await fake.sleep(1.0)
            in_flight -= 1

    await fake.run(*(image(n) for n in range(24)))
    assert peak == 12  # six for each of two pages loading at once (two browser slots)


async def test_retry_after_holds_a_pages_resources(fake: FakeTime) -> None:  # noqa: F811
    lim = defaults(fake)
    lim.defer("cdn.example", 30)  # a 429 with Retry-After: 30 from the image host
    page = lim.page_resources()
    log: list[tuple[str, float]] = []

    async def image(host: str) -> None:
        async with page.slot(host):
            log.append((host, fake.now))

    await fake.run(image("cdn.example"), image("other.example"))
    assert log == [("other.example", 0.0), ("cdn.example", 30.0)]


async def test_retry_after_past_the_deadline_fails_at_once(fake: FakeTime) -> None:  # noqa: F811
    lim = defaults(fake)
    lim.defer("cdn.example", 600)
    page = lim.page_resources()

    async def image() -> str:
        try:
            async with page.slot("cdn.example", deadline=60):
                return "sent"
        except HostBusyError as exc:
            return f"refused at {fake.now}: {exc}"

    (outcome,) = await fake.run(image())
    assert outcome.startswith("refused at 0.0: cdn.example: next request allowed in 600.0 s")
    assert "Retry-After" in outcome


def test_a_page_needs_at_least_one_connection_per_host(fake: FakeTime) -> None:  # noqa: F811
    with pytest.raises(ValueError):
        defaults(fake).page_resources(per_host=0)
