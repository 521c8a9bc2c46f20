"""PostgreSQL "restarted" mid-run (issue 19, "Bad input and faults"; docs/scale.md,
"Faults"): the shared server cannot be restarted here, so every connection of the
test's database is ended from the server's side (``pg_terminate_backend``), as a
restart does to its clients, while ``archiver run`` (procrastinate) and one
``archiver worker`` capture. The test plays the supervisor (compose's
``restart: unless-stopped``): a process that exits is started again. Every source is
captured exactly once, no task stays ``doing``, and the logs say what happened without
a wall of tracebacks."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import CliRunner
from tests.e2e.test_workers import (
    Cluster,
    HeldWeb,
    _add_report,
    _jobs,
    _leases,
    _poll,
    _snapshots,
    cluster,  # noqa: F401
    queue_db,  # noqa: F401
)
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SOURCES = 40
DEADLINE = 120.0


def _terminate(db_url: str) -> int:
    """End every other connection to the test's database, as a server restart does."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            ended = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
            return int(ended)
    finally:
        engine.dispose()


class Supervised:
    """A process started again whenever it exits, its outputs and statuses kept."""

    def __init__(self, cluster: Cluster, *args: str) -> None:  # noqa: F811
        self.cluster = cluster
        self.args = args
        self.exits: list[int] = []
        self.stderr: list[str] = []
        self.process = cluster.start(*args)

    def watch(self) -> None:
        if self.process.poll() is not None:
            _, err = self.process.communicate()
            self.exits.append(self.process.returncode)
            self.stderr.append(err)
            self.process = self.cluster.start(*self.args)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=60)
        self.exits.append(self.process.returncode)
        self.stderr.append(err)

    @property
    def log(self) -> str:
        return "\n".join(self.stderr)


@pytest.fixture
def supervised(cluster: Cluster) -> Iterator[list[Supervised]]:  # noqa: F811
    kept: list[Supervised] = []
    yield kept
    for one in kept:
        if one.process.poll() is None:
            one.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                one.process.communicate(timeout=30)


def test_every_connection_ended_mid_run_each_source_is_captured_once(
    cli: CliRunner,
    cluster: Cluster,  # noqa: F811
    simweb: SimulatedWeb,  # noqa: F811
    queue_db: str,  # noqa: F811
    tmp_path: Path,
    supervised: list[Supervised],
) -> None:
    held = HeldWeb(simweb, SOURCES)
    # A short claim: sources claimed by a task the fault ended are free again soon.
    cluster.env["ARCHIVER_CAPTURE__LEASE"] = "3"
    _add_report(cli, cluster, held, tmp_path)
    held.hold()
    daemon = Supervised(cluster, "run")
    worker = Supervised(cluster, "worker")
    supervised += [daemon, worker]
    try:
        _poll("the worker capturing", lambda: worker.process.pid in held.pids(), DEADLINE)
        assert _terminate(queue_db) >= 2  # the daemon's and the worker's at least
    finally:
        held.release()

    def done(count: int) -> Callable[[], bool]:
        def check() -> bool:
            daemon.watch()
            worker.watch()
            return len(_snapshots(queue_db)) == count and _jobs(queue_db, "doing") == 0

        return check

    _poll("every source captured, no task left doing", done(SOURCES), DEADLINE)
    # Still at work afterwards (reconnected, or started again): new sources are captured.
    later = tmp_path / "later"
    later.mkdir()
    more = [f"https://outlet{n}.example.kz/later/{n}.html" for n in range(10)]
    for url in more:
        simweb.page(url, "<title>Later</title><article><p>Later news.</p></article>")
    (later / "report.txt").write_text(
        "\n\n".join([f"Later claim {i}[{i}]." for i in range(1, 11)])
        + "\n\n"
        + "\n\n".join(f"[{i}]{url}" for i, url in enumerate(more, 1)),
        encoding="utf-8",
    )
    added = cli("add", str(later / "report.txt"), env=cluster.env)
    assert added.returncode == 0, added.stderr
    _poll("the later sources captured", done(SOURCES + 10), DEADLINE)
    worker.stop()
    daemon.stop()
    snapshots = _snapshots(queue_db)
    assert len(snapshots) == SOURCES + 10 and set(snapshots.values()) == {1}
    assert _leases(queue_db) == 0
    # Whatever exited on its own said so with a status a supervisor acts on; the final
    # SIGTERM ends each with 0.
    assert all(status != 0 for status in daemon.exits[:-1] + worker.exits[:-1])
    assert daemon.exits[-1] == 0 and worker.exits[-1] == 0, (daemon.log, worker.log)
    # No traceback: each error is a line naming the lost connection (queries in flight
    # when the connections ended fail; idle connections are replaced without a word).
    for log in (daemon.log, worker.log):
        assert "Traceback" not in log, log
        errors = [line for line in log.splitlines() if " ERROR " in line]
        assert all("the database connection failed" in line for line in errors), errors
