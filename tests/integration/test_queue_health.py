"""The work queue in /healthz and /metrics (issue 19): tasks per queue and state, the
oldest wait, workers alive; the queueing lock keeps a second task of a slot from
waiting. Real PostgreSQL, a fresh database with procrastinate's tables."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from archiver.app import Archive
from archiver.config import Settings
from archiver.errors import ConfigError
from archiver.queue import parse_queues, uses_procrastinate
from archiver.queue.tasks import build_app, defer, ensure_schema
from archiver.web import create_app
from archiver.web.tokens import Role, create_token
from tests.conftest import FixedClock

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
    }  # fmt: skip
    assert queue["queues"]["capture"]["oldest_todo_seconds"] >= 0
    _, token = create_token(queued.db, name="prometheus", role=Role.VIEWER, clock=clock)
    metrics = (await _get(queued, "/metrics", token)).text
    assert 'archiver_tasks{queue="capture",state="todo"} 3.0' in metrics
    assert 'archiver_tasks{queue="check",state="todo"} 1.0' in metrics
    assert "archiver_workers 1.0" in metrics


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
