"""The work queue in /healthz and /metrics (issue 19): tasks per queue and state, the
oldest wait, workers alive; the queueing lock keeps a second task of a slot from
waiting. Real PostgreSQL, a fresh database with procrastinate's tables."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from archiver.app import Archive
from archiver.config import Settings
from archiver.errors import ConfigError
from archiver.queue import parse_queues, uses_procrastinate
from archiver.queue.tasks import build_app, defer, ensure_schema
from archiver.web import create_app
from archiver.web.tokens import Role, create_token
from tests.conftest import REPO, FixedClock

pytestmark = pytest.mark.postgres


@pytest.fixture
async def queued(
    make_settings: Callable[..., Settings], postgres_url: str, clock: FixedClock
) -> AsyncIterator[Archive]:
    with Archive.open(make_settings(postgres_url), clock=clock) as archive:
        ensure_schema(archive.db)
        yield archive


async def _get(archive: Archive, path: str, token: str | None = None) -> httpx.Response:
    app = create_app(archive, archive.settings)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path, headers=headers)


async def test_health_and_metrics_report_tasks_per_queue_and_workers(
    queued: Archive, clock: FixedClock
) -> None:
    app = build_app(queued.settings)
    async with app.open_async():
        for slot in range(3):
            assert await defer(
                app, "archiver.capture", lock=f"capture:capture:{slot}", queue="capture",
                route="capture", part=slot,
            )  # fmt: skip
        # The same slot again while its task waits: not deferred (no pile-up).
        assert not await defer(
            app, "archiver.capture", lock="capture:capture:0", queue="capture", route="capture",
            part=0,
        )  # fmt: skip
        assert await defer(app, "archiver.check", lock="check:0", queue="check", part=0)
        await app.job_manager.register_worker()
    health = (await _get(queued, "/healthz")).json()
    queue = health["queue"]
    assert queue["workers"] == 1 and queue["workers_silent"] == 0
    assert queue["queues"]["capture"]["todo"] == 3
    assert queue["queues"]["check"]["todo"] == 1
    assert queue["queues"]["browser"] == {
        "todo": 0, "doing": 0, "failed": 0, "oldest_todo_seconds": None,
        "workers": 1, "workers_silent": 0,
    }  # fmt: skip
    assert queue["queues"]["capture"]["oldest_todo_seconds"] >= 0
    _, token = create_token(queued.db, name="prometheus", role=Role.VIEWER, clock=clock)
    metrics = (await _get(queued, "/metrics", token)).text
    assert 'archiver_tasks{queue="capture",state="todo"} 3.0' in metrics
    assert 'archiver_tasks{queue="check",state="todo"} 1.0' in metrics
    # A worker whose queues are not recorded (registered by procrastinate alone) counts
    # for every queue.
    assert 'archiver_workers{queue="capture"} 1.0' in metrics
    assert 'archiver_workers{queue="stamp"} 1.0' in metrics
    assert "archiver_worker_processes 1.0" in metrics


@pytest.fixture
def worker_processes(
    postgres_url: str, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start real ``archiver worker`` processes on the test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    env.update(
        PYTHONPATH=str(REPO),
        ARCHIVER_STORAGE__ROOT=str(tmp_path / "storage"),
        ARCHIVER_STORAGE__DATABASE_URL=postgres_url,
        ARCHIVER_DAEMON__QUEUE="procrastinate",
        ARCHIVER_DAEMON__WORKER_HEARTBEAT="1",
        ARCHIVER_WITNESSES__LOOKUP_UNPRESERVED="false",
    )
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "archiver", "worker", *args],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.communicate()


async def _poll_health(
    archive: Archive, what: str, condition: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """/healthz's queue object once ``condition`` holds (a generous deadline)."""
    end = time.monotonic() + 90
    while True:
        queue: dict[str, Any] = (await _get(archive, "/healthz")).json()["queue"]
        if condition(queue):
            return queue
        if time.monotonic() > end:
            pytest.fail(f"not within 90 s: {what}; last: {queue}")
        await asyncio.sleep(0.2)


def _workers(queue: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {
        name: (counts["workers"], counts["workers_silent"])
        for name, counts in queue["queues"].items()
    }


async def test_workers_are_counted_per_queue_they_take(
    make_settings: Callable[..., Settings],
    postgres_url: str,
    clock: FixedClock,
    worker_processes: Callable[..., subprocess.Popen[str]],
) -> None:
    settings = make_settings(postgres_url, daemon__worker_heartbeat="1")
    with Archive.open(settings, clock=clock) as archive:
        ensure_schema(archive.db)
        plain = worker_processes("--queues", "capture", "--concurrency", "1")
        worker_processes("--queues", "check,stamp", "--concurrency", "1")
        worker_processes("--concurrency", "1")  # no --queues: every queue
        queue = await _poll_health(
            archive, "three workers with their queues", lambda q: q["workers"] == 3
            and _workers(q)["browser"] == (1, 0) and _workers(q)["capture"] == (2, 0),
        )  # fmt: skip
        assert queue["workers_silent"] == 0
        assert _workers(queue) == {
            "capture": (2, 0), "browser": (1, 0), "check": (2, 0), "stamp": (2, 0),
        }  # fmt: skip
        _, token = create_token(archive.db, name="prometheus", role=Role.VIEWER, clock=clock)
        metrics = (await _get(archive, "/metrics", token)).text
        assert 'archiver_workers{queue="capture"} 2.0' in metrics
        assert 'archiver_workers{queue="browser"} 1.0' in metrics
        assert 'archiver_workers{queue="check"} 2.0' in metrics
        assert 'archiver_workers_silent{queue="capture"} 0.0' in metrics
        assert "archiver_worker_processes 3.0" in metrics

        # A dead worker: no heartbeat for three, silent on its queues only.
        plain.send_signal(signal.SIGKILL)
        plain.wait(timeout=60)
        queue = await _poll_health(
            archive, "the killed worker silent", lambda q: q["workers_silent"] == 1
        )
        assert queue["workers"] == 2
        assert _workers(queue) == {
            "capture": (1, 1), "browser": (1, 0), "check": (2, 0), "stamp": (2, 0),
        }  # fmt: skip
        metrics = (await _get(archive, "/metrics", token)).text
        assert 'archiver_workers{queue="capture"} 1.0' in metrics
        assert 'archiver_workers_silent{queue="capture"} 1.0' in metrics
        assert 'archiver_workers_silent{queue="check"} 0.0' in metrics


async def test_sqlite_runs_in_process_and_health_has_no_queue(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    with Archive.open(make_settings(), clock=clock) as archive:
        assert not uses_procrastinate(archive.settings)
        assert "queue" not in (await _get(archive, "/healthz")).json()


def test_queue_setting_and_names(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match="needs PostgreSQL"):
        uses_procrastinate(make_settings(daemon__queue="procrastinate"))
    assert uses_procrastinate(make_settings("postgresql+psycopg://u@h/db"))
    assert not uses_procrastinate(
        make_settings("postgresql+psycopg://u@h/db", daemon__queue="in-process")
    )
    assert parse_queues(None) == ["capture", "browser", "check", "stamp"]
    assert parse_queues("browser, capture,browser") == ["browser", "capture"]
    with pytest.raises(ConfigError, match="unknown queue video"):
        parse_queues("capture,video")
