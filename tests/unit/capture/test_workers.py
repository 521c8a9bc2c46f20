"""Sharing a run out to worker processes: plan_shares as a pure function, the
``capture.workers`` setting, and when forking is allowed at all."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import pytest

from archiver.capture.recording import DueSource
from archiver.capture.workers import MIN_SOURCES_PER_WORKER, can_fork, plan_shares, worker_count


def sources_on(sizes: dict[str, int], *, first_id: int = 1) -> list[DueSource]:
    """``sizes[host]`` sources per host, interleaved host by host (as ids come out of
    the database: not grouped by host)."""
    out: list[DueSource] = []
    counters = dict.fromkeys(sizes, 0)
    next_id = first_id
    while any(counters[h] < n for h, n in sizes.items()):
        for host, size in sizes.items():
            if counters[host] < size:
                counters[host] += 1
                out.append(
                    DueSource(next_id, f"https://{host}/a/{next_id}.html", "news", "document",
                              "pending", ())
                )  # fmt: skip
                next_id += 1
    return out


def everything(_: DueSource) -> bool:
    return True


def not_kind(kind: str) -> Callable[[DueSource], bool]:
    return lambda source: source.kind != kind


def host(source: DueSource) -> str:
    return (urlsplit(source.url).hostname or "").lower()


def hosts_of(share: Sequence[DueSource]) -> set[str]:
    return {host(s) for s in share}


def test_every_host_goes_to_exactly_one_worker_and_every_source_to_one_place() -> None:
    sizes = {f"h{n}.example": 8 + n for n in range(7)}  # 8..14 sources, 77 in all
    sources = sources_on(sizes)
    shares, here = plan_shares(sources, workers=3, eligible=everything, min_per_worker=4)
    assert len(shares) == 3 and here == []
    placed = [s.id for share in shares for s in share]
    assert sorted(placed) == [s.id for s in sources]  # each once, none lost, none doubled
    owners: dict[str, set[int]] = {}
    for index, share in enumerate(shares):
        for name in hosts_of(share):
            owners.setdefault(name, set()).add(index)
    assert owners.keys() == sizes.keys()
    assert all(len(indexes) == 1 for indexes in owners.values()), owners


def test_hosts_differing_only_in_case_scheme_or_port_are_one_host() -> None:
    sources = sources_on({"a.example": 20, "b.example": 20})
    variants = [
        DueSource(100, "http://A.Example/x", "news", "document", "pending", ()),
        DueSource(101, "https://a.example:8443/y", "news", "document", "pending", ()),
    ]
    shares, here = plan_shares(sources + variants, workers=2, eligible=everything)
    assert here == []
    [with_a] = [share for share in shares if 100 in {s.id for s in share}]
    assert {s.id for s in with_a} >= {101} | {s.id for s in sources if host(s) == "a.example"}
    assert hosts_of(with_a) == {"a.example"}


def test_a_host_with_one_ineligible_source_stays_here_entirely() -> None:
    sources = sources_on({"a.example": 20, "b.example": 20, "mixed.example": 20})
    # One source of mixed.example needs the browser: none of that host may leave.
    sources[2] = DueSource(sources[2].id, sources[2].url, "news", "article", "pending", ())
    assert host(sources[2]) == "mixed.example"
    shares, here = plan_shares(sources, workers=4, eligible=not_kind("article"))
    assert len(shares) == 2
    assert [s.id for s in here] == [s.id for s in sources if host(s) == "mixed.example"]
    assert len(here) == 20
    assert {frozenset(hosts_of(share)) for share in shares} == {
        frozenset({"a.example"}),
        frozenset({"b.example"}),
    }


def test_fewer_than_two_workers_worth_of_eligible_sources_keeps_everything_here() -> None:
    per = MIN_SOURCES_PER_WORKER
    just_short = sources_on({"a.example": per, "b.example": per - 1})
    shares, here = plan_shares(just_short, workers=8, eligible=everything)
    assert shares == []
    assert here == just_short  # the same sources in the same order
    # One more source and two workers' worth exist.
    enough = sources_on({"a.example": per, "b.example": per})
    shares, here = plan_shares(enough, workers=8, eligible=everything)
    assert len(shares) == 2 and here == []


def test_only_movable_sources_count_towards_the_minimum() -> None:
    # 40 sources, but 20 of them on a host that must stay here: 20 movable < 2 * 16.
    sources = sources_on({"a.example": 10, "b.example": 10, "browser.example": 20})
    shares, here = plan_shares(sources, workers=4, eligible=lambda s: host(s) != "browser.example")
    assert shares == [] and here == sources


def test_workers_never_exceed_the_movable_hosts_or_the_setting() -> None:
    two_hosts = sources_on({"a.example": 100, "b.example": 100})
    shares, _ = plan_shares(two_hosts, workers=16, eligible=everything)
    assert len(shares) == 2
    many_hosts = sources_on({f"h{n}.example": 20 for n in range(10)})
    shares, _ = plan_shares(many_hosts, workers=3, eligible=everything)
    assert len(shares) == 3
    # And never more than min_per_worker sources' worth each: 50 sources -> 3 workers.
    fifty = sources_on({f"h{n}.example": 5 for n in range(10)})
    shares, _ = plan_shares(fifty, workers=16, eligible=everything)
    assert len(shares) == 50 // MIN_SOURCES_PER_WORKER == 3
    # A single movable host can never be spread: no workers at all.
    one_host = sources_on({"only.example": 500})
    assert plan_shares(one_host, workers=4, eligible=everything) == ([], one_host)


def test_one_worker_means_no_shares() -> None:
    sources = sources_on({"a.example": 50, "b.example": 50})
    assert plan_shares(sources, workers=1, eligible=everything) == ([], sources)
    assert plan_shares(sources, workers=0, eligible=everything) == ([], sources)


def test_nothing_eligible_means_no_shares() -> None:
    sources = sources_on({"a.example": 50, "b.example": 50})
    assert plan_shares(sources, workers=2, eligible=lambda _: False) == ([], sources)
    assert plan_shares([], workers=2, eligible=everything) == ([], [])


def test_largest_host_first_onto_the_least_loaded_worker() -> None:
    # Largest first: 40 -> w0, 30 -> w1, 20 -> w1 (30 < 40), 10 -> w0 (40 < 50), 5 -> w0
    # (50 == 50: the first). Round robin in input order would give 40+20+5 against 30+10.
    sizes = {"s10.example": 10, "s40.example": 40, "s5.example": 5, "s30.example": 30,
             "s20.example": 20}  # fmt: skip
    shares, here = plan_shares(sources_on(sizes), workers=2, eligible=everything)
    assert here == []
    assert [hosts_of(share) for share in shares] == [
        {"s40.example", "s10.example", "s5.example"},
        {"s30.example", "s20.example"},
    ]
    assert [len(share) for share in shares] == [55, 50]


def test_loads_are_balanced_for_many_equal_hosts() -> None:
    sizes = {f"h{n:02}.example": 16 for n in range(12)}
    shares, _ = plan_shares(sources_on(sizes), workers=4, eligible=everything)
    assert [len(share) for share in shares] == [48, 48, 48, 48]
    assert all(len(hosts_of(share)) == 3 for share in shares)


def test_equal_hosts_are_dealt_in_name_order_whatever_the_input_order() -> None:
    sizes = {"c.example": 20, "a.example": 20, "d.example": 20, "b.example": 20}
    shares, _ = plan_shares(sources_on(sizes), workers=2, eligible=everything)
    # Ties broken by host name: a -> w0, b -> w1, c -> w0, d -> w1.
    assert [hosts_of(share) for share in shares] == [
        {"a.example", "c.example"},
        {"b.example", "d.example"},
    ]


def test_order_within_a_share_and_here_follows_the_input() -> None:
    sources = sources_on({"a.example": 17, "b.example": 19, "c.example": 23, "stay.example": 9})
    sources.reverse()  # not sorted by id: the order must come from the input, not the ids
    shares, here = plan_shares(sources, workers=2, eligible=lambda s: host(s) != "stay.example")
    position = {s.id: i for i, s in enumerate(sources)}
    for part in [*shares, here]:
        indexes = [position[s.id] for s in part]
        assert indexes == sorted(indexes)
    assert len(here) == 9 and hosts_of(here) == {"stay.example"}


def test_the_input_is_not_changed() -> None:
    sources = sources_on({"a.example": 20, "b.example": 20})
    before = list(sources)
    plan_shares(sources, workers=2, eligible=everything)
    assert sources == before


@pytest.mark.parametrize("setting", [1, 2, 7, 64])
def test_worker_count_is_the_setting(setting: int) -> None:
    assert worker_count(setting) == setting


def test_worker_count_zero_is_one_per_core_this_process_may_use() -> None:
    assert worker_count(0) == len(os.sched_getaffinity(0))
    assert 1 <= worker_count(0) <= (os.cpu_count() or 1)


def test_can_fork_only_while_no_other_thread_runs() -> None:
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    assert others == [], f"a thread leaked from an earlier test: {others}"
    assert can_fork() is True
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="test-other-thread")
    thread.start()
    try:
        assert thread.is_alive()
        assert can_fork() is False
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert can_fork() is True
