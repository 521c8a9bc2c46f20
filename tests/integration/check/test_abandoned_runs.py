"""Check runs left unfinished by a process that died are closed, with the reason, at
the start of the next run or daemon pass (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from archiver.app import Archive
from archiver.check.abandoned import close_abandoned_runs, this_process
from archiver.models import CheckRun
from archiver.schedule.checks import CheckScheduler
from tests.conftest import FixedClock


@pytest.fixture
def dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                           capture_output=True, text=True)  # fmt: skip
    return int(child.stdout)


@pytest.fixture
def live_pid() -> Iterator[int]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


def _add_run(archive: Archive, owner: str | None, started_at: datetime) -> int:
    with archive.db.session() as session:
        run = CheckRun(started_at=started_at, trigger="cli", summary={}, owner=owner)
        session.add(run)
        session.flush()
        return run.id


def _runs(archive: Archive) -> dict[int, CheckRun]:
    with archive.db.session() as session:
        return {r.id: r for r in session.scalars(select(CheckRun))}


def test_only_runs_whose_process_is_gone_are_closed(
    archive: Archive, clock: FixedClock, dead_pid: int, live_pid: int
) -> None:
    host = socket.gethostname()
    now = clock()
    recent, old = now - timedelta(minutes=1), now - timedelta(hours=25)
    ids = {
        "dead process": _add_run(archive, f"{host}:{dead_pid}:aaaa", recent),
        "earlier process, same pid": _add_run(archive, f"{host}:{os.getpid()}:bbbb", recent),
        "this process": _add_run(archive, this_process(), recent),
        "live process": _add_run(archive, f"{host}:{live_pid}:cccc", recent),
        "other host, recent": _add_run(archive, "elsewhere.example:42:dddd", recent),
        "other host, old": _add_run(archive, "elsewhere.example:42:dddd", old),
        "unknown owner, recent": _add_run(archive, None, recent),
        "unknown owner, old": _add_run(archive, None, old),
    }
    finished = _add_run(archive, f"{host}:{dead_pid}:eeee", old)
    with archive.db.session() as session:
        row = session.get(CheckRun, finished)
        assert row is not None
        row.finished_at = old + timedelta(minutes=3)

    closed = close_abandoned_runs(archive.db, now)

    expected = {
        "dead process",
        "earlier process, same pid",
        "other host, old",
        "unknown owner, old",
    }
    assert sorted(closed) == sorted(ids[name] for name in expected)
    runs = _runs(archive)
    for name, run_id in ids.items():
        run = runs[run_id]
        if name in expected:
            assert run.finished_at == now.replace(tzinfo=None) or run.finished_at == now, name
            assert run.abandoned_reason and run.abandoned_reason.startswith("abandoned"), name
        else:
            assert run.finished_at is None and run.abandoned_reason is None, name
    assert str(dead_pid) in (runs[ids["dead process"]].abandoned_reason or "")
    assert "25 h" in (runs[ids["unknown owner, old"]].abandoned_reason or "")
    assert runs[finished].abandoned_reason is None
    # A second look finds nothing more to close.
    assert close_abandoned_runs(archive.db, now) == []


def test_a_check_run_records_its_process_and_closes_the_dead_ones_first(
    archive: Archive, clock: FixedClock, dead_pid: int
) -> None:
    left = _add_run(archive, f"{socket.gethostname()}:{dead_pid}:ffff", clock())
    runner = archive.check_runner()
    asyncio.run(runner.run([]))
    assert _runs(archive)[left].abandoned_reason is not None
    run_id = runner._prepare([], "cli")[0]
    assert _runs(archive)[run_id].owner == this_process()


def test_the_daemon_closes_them_even_with_nothing_due(
    archive: Archive, clock: FixedClock, dead_pid: int
) -> None:
    left = _add_run(archive, f"{socket.gethostname()}:{dead_pid}:ffff", clock())
    scheduler = CheckScheduler(archive, should_stop=lambda: False)
    assert asyncio.run(scheduler.check_pass()) == 0
    run = _runs(archive)[left]
    assert run.finished_at is not None and run.abandoned_reason is not None
