"""archiver.bounded: total deadlines, prompt stops, and the stop's last resort."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import pytest

from archiver.bounded import PrivateLoop, Stopped, bounded, run_bounded, stop_event
from tests.conftest import REPO

MARGIN = 5.0


async def _forever(cleaned: list[str]) -> None:
    try:
        await asyncio.sleep(3600)
    finally:
        cleaned.append("cleaned")


async def test_a_deadline_cancels_the_work_and_waits_for_its_clean_up() -> None:
    cleaned: list[str] = []
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"not done within 0.2s"):
        await bounded(_forever(cleaned), deadline=0.2)
    assert time.monotonic() - started < MARGIN
    assert cleaned == ["cleaned"]


@pytest.mark.parametrize("kind", ["callable", "event"])
async def test_a_stop_abandons_the_work(kind: str) -> None:
    cleaned: list[str] = []
    flag = asyncio.Event()
    should_stop = flag if kind == "event" else flag.is_set
    asyncio.get_running_loop().call_later(0.2, flag.set)
    started = time.monotonic()
    with pytest.raises(Stopped):
        await bounded(_forever(cleaned), should_stop=should_stop)
    assert time.monotonic() - started < MARGIN
    assert cleaned == ["cleaned"]


async def test_work_done_first_is_returned() -> None:
    async def quick() -> int:
        return 7

    assert await bounded(quick(), deadline=5, should_stop=lambda: False) == 7


async def test_stop_event_follows_the_question() -> None:
    stopping = False
    async with stop_event(lambda: stopping) as event:
        assert not event.is_set()
        stopping = True
        await asyncio.wait_for(event.wait(), MARGIN)


def test_run_bounded_from_a_thread_and_from_inside_a_running_loop() -> None:
    async def answer() -> str:
        await asyncio.sleep(0)
        return "ok"

    assert run_bounded(answer, deadline=5) == "ok"

    async def inside() -> str:
        return run_bounded(answer, deadline=5)  # blocking call from a loop's thread

    assert asyncio.run(inside()) == "ok"
    flag = threading.Event()
    threading.Timer(0.2, flag.set).start()
    with pytest.raises(Stopped):
        run_bounded(lambda: asyncio.sleep(3600), deadline=3600, should_stop=flag.is_set)


def test_a_private_loop_keeps_what_lives_on_it_between_calls() -> None:
    loop = PrivateLoop()
    seen: list[asyncio.AbstractEventLoop] = []

    async def note() -> None:
        seen.append(asyncio.get_running_loop())

    loop.run(note)
    loop.run(note)
    closed: list[str] = []

    async def last() -> None:
        closed.append("closed")

    loop.close(last)
    assert len(seen) == 2 and seen[0] is seen[1] and seen[0].is_closed()
    assert closed == ["closed"]


def test_exit_after_ends_a_process_held_by_a_stuck_thread() -> None:
    """The last resort of ``archiver run``'s stop: a thread nobody can interrupt (here a
    non-daemon thread sleeping an hour, which the interpreter would wait for at exit)
    does not keep the process past its deadline, and the exit is 0."""
    code = (
        "import logging, threading, time\n"
        "from archiver.bounded import exit_after\n"
        "logging.basicConfig()\n"
        "threading.Thread(target=time.sleep, args=(3600,), name='stuck').start()\n"
        "exit_after(0.5, 'test')\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 0.5 + MARGIN
    assert "test: not stopped within 0.5 s; exiting now" in done.stderr
    assert "stuck" in done.stderr
