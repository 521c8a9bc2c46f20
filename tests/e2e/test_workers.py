"""Scale-out on PostgreSQL (issue 19, docs/scale.md): ``archiver run`` schedules
procrastinate tasks, ``archiver worker`` processes run them.

Real PostgreSQL (a fresh database per test, procrastinate's tables applied by the
fixture), the simulated web, every process started as a user would. While the test
holds the web, every request waits, so the workers overlap for certain; nothing sleeps
to pass, every wait polls for a condition with a generous deadline.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import CliRunner
from tests.simweb import CANARY_URL, SimulatedWeb
from tests.simweb.behaviours import Response, response
from tests.simweb.fixtures import simweb  # noqa: F401
from tests.simweb.messages import Request
from tests.simweb.registry import Handler
from tests.simweb.remote import client_process

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SOURCES = 200
HOSTS = 20
DEADLINE = 240.0


def _poll(what: str, condition: Callable[[], bool], deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"not within {deadline:.0f} s: {what}")
        time.sleep(0.1)


class HeldWeb:
    """``count`` article pages on ``HOSTS`` hosts. While held, every request waits for
    :meth:`release`; every request notes the process that sent it."""

    def __init__(self, web: SimulatedWeb, count: int = SOURCES) -> None:
        self.urls: list[str] = []
        self.requests: list[tuple[str, int]] = []
        self._released = threading.Event()
        self._released.set()
        for n in range(count):
            url = f"https://outlet{n % HOSTS}.example.kz/news/{n}.html"
            web.page(url, self._handler(web, url, n))
            self.urls.append(url)

    def _handler(self, web: SimulatedWeb, url: str, n: int) -> Handler:
        body = f"<title>News {n}</title><article><p>{n} people were detained.</p></article>"

        async def handle(request: Request) -> Response:
            pid, _ = client_process(request.client, web.port)
            self.requests.append((url, pid))
            end = time.monotonic() + DEADLINE
            while not self._released.is_set() and time.monotonic() < end:
                await asyncio.sleep(0.02)
            return response(body)

        return handle

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def pids(self) -> set[int]:
        return {pid for _, pid in list(self.requests) if pid}

    def report(self, folder: Path) -> Path:
        path = folder / "report.txt"
        lines = [f"Claim number {i}[{i}]." for i in range(1, len(self.urls) + 1)]
        lines += [f"[{i}]{url}" for i, url in enumerate(self.urls, 1)]
        path.write_text("\n\n".join(lines), encoding="utf-8")
        return path


@pytest.fixture
def queue_db(postgres_url: str) -> str:
    """A fresh PostgreSQL database with the archiver's and procrastinate's tables."""
    from archiver.queue.tasks import ensure_schema
    from archiver.store.db import Database

    db = Database.open(postgres_url)
    try:
        assert ensure_schema(db) is True
        assert ensure_schema(db) is False  # once only, whoever starts first
    finally:
        db.close()
    return postgres_url


class Cluster:
    """``archiver run`` and ``archiver worker`` processes on one database."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "archiver", *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[str]) -> str:
        """SIGTERM; its stderr once it has exited (status 0 asserted)."""
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "Traceback" not in err, err
        return err

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.communicate()


@pytest.fixture
def cluster(
    cli_env: dict[str, str],
    simweb: SimulatedWeb,  # noqa: F811
    queue_db: str,
    tmp_path: Path,
) -> Iterator[Cluster]:
    env = {
        **cli_env,
        "ARCHIVER_STORAGE__DATABASE_URL": queue_db,
        "ARCHIVER_DAEMON__QUEUE": "procrastinate",
        "ARCHIVER_DAEMON__INBOX_POLL_INTERVAL": "0.5",
        "ARCHIVER_DAEMON__CHECK": "false",
        "ARCHIVER_DAEMON__WORKER_HEARTBEAT": "1",
        "ARCHIVER_NETWORK__PROXY": simweb.proxy_url,
        "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
        "ARCHIVER_CAPTURE__EXTRA_CA_FILE": str(simweb.ca_pem_path),
        "ARCHIVER_CAPTURE__MODES": '{default = ["http"]}',
        # Small batches: many tasks, so both workers get some.
        "ARCHIVER_CAPTURE__CONCURRENCY": "4",
        "ARCHIVER_CHECK__CANARY_URLS": f'["{CANARY_URL}"]',
    }
    running = Cluster(env, tmp_path)
    try:
        yield running
    finally:
        running.kill_all()


def _query(db_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def _snapshots(db_url: str) -> Counter[int]:
    rows = _query(db_url, "SELECT source_id, count(*) FROM snapshots GROUP BY source_id")
    return Counter({int(str(k)): int(str(n)) for k, n in rows})


def _leases(db_url: str) -> int:
    rows = _query(db_url, "SELECT count(*) FROM sources WHERE lease_owner IS NOT NULL")
    return int(str(rows[0][0]))


def _jobs(db_url: str, status: str) -> int:
    rows = _query(db_url, f"SELECT count(*) FROM procrastinate_jobs WHERE status = '{status}'")
    return int(str(rows[0][0]))


def _add_report(cli: CliRunner, cluster: Cluster, held: HeldWeb, tmp_path: Path) -> None:
    result = cli("add", str(held.report(tmp_path)), env=cluster.env)
    assert result.returncode == 0, result.stderr


def test_two_workers_capture_each_of_200_sources_once(
    cli: CliRunner,
    cluster: Cluster,
    simweb: SimulatedWeb,  # noqa: F811
    queue_db: str,
    tmp_path: Path,
) -> None:
    held = HeldWeb(simweb)
    _add_report(cli, cluster, held, tmp_path)
    held.hold()
    daemon = cluster.start("run")
    workers = [cluster.start("worker", "--queues", "capture,browser") for _ in range(2)]
    try:
        _poll("both workers capturing", lambda: {w.pid for w in workers} <= held.pids())
    finally:
        held.release()
    _poll("every source captured", lambda: len(_snapshots(queue_db)) == SOURCES)
    outputs = [cluster.stop(w) for w in workers]
    cluster.stop(daemon)
    snapshots = _snapshots(queue_db)
    assert len(snapshots) == SOURCES and set(snapshots.values()) == {1}, outputs
    # Captured by the workers, never by the scheduler; each page asked for once.
    assert held.pids() == {w.pid for w in workers}
    assert Counter(url for url, _ in held.requests) == Counter(held.urls)
    assert _leases(queue_db) == 0
    assert _jobs(queue_db, "doing") == 0 and _jobs(queue_db, "failed") == 0


def test_a_worker_killed_mid_run_the_rest_completes(
    cli: CliRunner,
    cluster: Cluster,
    simweb: SimulatedWeb,  # noqa: F811
    queue_db: str,
    tmp_path: Path,
) -> None:
    held = HeldWeb(simweb)
    # A short claim, so the dead worker's sources are free again without minutes' wait.
    cluster.env["ARCHIVER_CAPTURE__LEASE"] = "3"
    _add_report(cli, cluster, held, tmp_path)
    held.hold()
    daemon = cluster.start("run")
    doomed, survivor = (cluster.start("worker") for _ in range(2))
    try:
        _poll("both workers capturing", lambda: {doomed.pid, survivor.pid} <= held.pids())
        assert _jobs(queue_db, "doing") >= 2
        doomed.send_signal(signal.SIGKILL)
        assert doomed.wait(timeout=DEADLINE) == -signal.SIGKILL
    finally:
        held.release()
    _poll("every source captured", lambda: len(_snapshots(queue_db)) == SOURCES)
    # The dead worker's task went back to the queue (stalled-job retry) and was done.
    _poll("no task left running", lambda: _jobs(queue_db, "doing") == 0)
    cluster.stop(survivor)
    stderr = cluster.stop(daemon)
    assert "handed back to the queue" in stderr, stderr
    snapshots = _snapshots(queue_db)
    assert len(snapshots) == SOURCES and set(snapshots.values()) == {1}
    assert _leases(queue_db) == 0
    assert _jobs(queue_db, "failed") == 0


def test_sigterm_stops_a_busy_worker_with_status_0_and_nothing_lost(
    cli: CliRunner,
    cluster: Cluster,
    simweb: SimulatedWeb,  # noqa: F811
    queue_db: str,
    tmp_path: Path,
) -> None:
    held = HeldWeb(simweb, 40)
    _add_report(cli, cluster, held, tmp_path)
    held.hold()
    daemon = cluster.start("run")
    worker = cluster.start("worker")
    try:
        _poll("the worker capturing", lambda: worker.pid in held.pids())
        # Its captures hang: it abandons them, releases its sources and exits 0.
        stderr = cluster.stop(worker)
    finally:
        held.release()
    assert "stopping (SIGTERM)" in stderr, stderr
    assert "abandoning the task in hand" in stderr, stderr  # not cancelled mid-write
    assert _snapshots(queue_db) == Counter()
    assert _leases(queue_db) == 0
    # Nothing was lost: the next worker captures every source, once.
    second = cluster.start("worker")
    _poll("every source captured", lambda: len(_snapshots(queue_db)) == 40)
    cluster.stop(second)
    cluster.stop(daemon)
    assert set(_snapshots(queue_db).values()) == {1}


def test_re_checks_are_tasks_for_the_workers_each_source_checked_once(
    cli: CliRunner,
    cluster: Cluster,
    simweb: SimulatedWeb,  # noqa: F811
    queue_db: str,
    tmp_path: Path,
) -> None:
    held = HeldWeb(simweb, 60)
    _add_report(cli, cluster, held, tmp_path)
    captured = cli("capture", env=cluster.env)  # in-process, as a user may
    assert captured.returncode == 0, captured.stderr
    held.requests.clear()
    # Every source due for its re-check now; small batches, so several tasks.
    _query_write(
        queue_db,
        "UPDATE sources SET next_check_at = now() - interval '1 minute', "
        "last_checked_at = now() - interval '2 minutes'",
    )
    cluster.env.update(
        ARCHIVER_DAEMON__CHECK="true", ARCHIVER_CHECK__TICK="1", ARCHIVER_CHECK__BATCH_SIZE="10"
    )
    held.hold()
    daemon = cluster.start("run")
    # Two batches at a time each: six batches wait, so both workers get some.
    workers = [cluster.start("worker", "--queues", "check", "--concurrency", "2") for _ in range(2)]
    try:
        _poll("both workers checking", lambda: {w.pid for w in workers} <= held.pids())
    finally:
        held.release()
    _poll("every source checked", lambda: len(_checks(queue_db)) == 60)
    for worker in workers:
        cluster.stop(worker)
    cluster.stop(daemon)
    assert set(_checks(queue_db).values()) == {1}
    assert held.pids() == {w.pid for w in workers}
    assert _leases(queue_db) == 0


def _query_write(db_url: str, sql: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


def _checks(db_url: str) -> Counter[int]:
    rows = _query(
        db_url,
        "SELECT source_id, count(*) FROM observations WHERE via = 'check' GROUP BY source_id",
    )
    return Counter({int(str(k)): int(str(n)) for k, n in rows})
