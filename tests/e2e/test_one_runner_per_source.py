"""One capture (or check) per source at a time, whatever runs: two ``archiver capture``
processes, ``archiver capture`` beside the daemon, two ``archiver check`` processes, and
a runner killed mid-capture (docs/capture.md and docs/recheck.md, "One runner per
source").

Every page of the simulated web here holds its answer until the test lets go, so the
runners overlap for certain: a runner that took a source is still busy with it when the
other looks. Nothing sleeps to pass; every wait polls with a generous deadline.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import CliRunner
from tests.e2e.daemon import daemon_process, stop
from tests.simweb import CANARY_URL, SimulatedWeb
from tests.simweb.behaviours import Response, response
from tests.simweb.fixtures import simweb  # noqa: F401
from tests.simweb.messages import Request
from tests.simweb.registry import Handler
from tests.simweb.remote import client_process

pytestmark = pytest.mark.slow

SOURCES = 30
DEADLINE = 120.0
CAPTURED = re.compile(r"captured (\d+) sources?")
SKIPPED = re.compile(r"skipped (\d+) sources? another runner is capturing")
CHECKED = re.compile(r"checked (\d+) sources?")
SKIPPED_CHECKS = re.compile(r"skipped (\d+) sources? another runner is checking")


def _poll(what: str, condition: Callable[[], bool], deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"not within {deadline:.0f} s: {what}")
        time.sleep(0.05)


class HeldWeb:
    """``count`` pages on ten hosts. While :attr:`holding`, every request waits until
    :meth:`release`; every request notes the process that sent it."""

    def __init__(self, web: SimulatedWeb, count: int = SOURCES) -> None:
        self.urls: list[str] = []
        self.requests: list[tuple[str, int]] = []  # (url, pid of the client)
        self.parents: dict[int, int] = {}  # pid -> its parent's
        self.holding = threading.Event()
        self._released = threading.Event()
        for n in range(count):
            url = f"https://outlet{n % 10}.example.kz/news/{n}.html"
            web.page(url, self._handler(web, url, n))
            self.urls.append(url)

    def _handler(self, web: SimulatedWeb, url: str, n: int) -> Handler:
        body = f"<title>News {n}</title><article><p>{n} people were detained.</p></article>"

        async def handle(request: Request) -> Response:
            pid, parent = client_process(request.client, web.port)
            self.parents[pid] = parent
            self.requests.append((url, pid))
            end = time.monotonic() + DEADLINE
            while self.holding.is_set() and not self._released.is_set():
                if time.monotonic() > end:
                    break
                await asyncio.sleep(0.02)
            return response(body)

        return handle

    def hold(self) -> None:
        self._released.clear()
        self.holding.set()

    def release(self) -> None:
        self._released.set()
        self.holding.clear()

    def pids(self) -> set[int]:
        return {pid for _, pid in list(self.requests) if pid}

    def report(self, folder: Path) -> Path:
        path = folder / "report.txt"
        lines = [f"Claim number {i}[{i}]." for i in range(1, len(self.urls) + 1)]
        lines += [f"[{i}]{url}" for i, url in enumerate(self.urls, 1)]
        path.write_text("\n\n".join(lines), encoding="utf-8")
        return path


@pytest.fixture
def held(simweb: SimulatedWeb) -> HeldWeb:  # noqa: F811
    return HeldWeb(simweb)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'storage' / 'archiver.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def _env(web: SimulatedWeb, db_url: str, **extra: str) -> dict[str, str]:
    return {
        "ARCHIVER_STORAGE__DATABASE_URL": db_url,
        "ARCHIVER_NETWORK__PROXY": web.proxy_url,
        "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
        "ARCHIVER_CAPTURE__EXTRA_CA_FILE": str(web.ca_pem_path),
        "ARCHIVER_CAPTURE__MODES": '{default = ["http"]}',
        "ARCHIVER_CHECK__CANARY_URLS": f'["{CANARY_URL}"]',
        **extra,
    }


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "archiver", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _query(db_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def _per_source(db_url: str, sql: str) -> Counter[int]:
    return Counter({int(str(k)): int(str(n)) for k, n in _query(db_url, sql)})


def _snapshots(db_url: str) -> Counter[int]:
    return _per_source(db_url, "SELECT source_id, count(*) FROM snapshots GROUP BY source_id")


def _leases(db_url: str) -> list[tuple[object, ...]]:
    return _query(db_url, "SELECT lease_owner FROM sources WHERE lease_owner IS NOT NULL")


def _number(pattern: re.Pattern[str], output: str) -> int:
    found = pattern.search(output)
    return int(found.group(1)) if found else 0


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0, out + err
    assert "Traceback" not in err, err
    return out


def test_two_captures_started_together_capture_each_source_once(
    cli: CliRunner,
    cli_env: dict[str, str],
    simweb: SimulatedWeb,  # noqa: F811
    held: HeldWeb,
    db_url: str,
    tmp_path: Path,
) -> None:
    env = _env(simweb, db_url)
    assert cli("add", str(held.report(tmp_path)), env=env).returncode == 0
    held.hold()
    runners = [_start(["capture"], {**cli_env, **env}, tmp_path) for _ in range(2)]
    try:
        # Both are capturing, or one found nothing it may take and ended.
        _poll(
            "both runners capturing, or one done",
            lambda: len(held.pids()) == 2 or any(r.poll() is not None for r in runners),
        )
    finally:
        held.release()
    outputs = [_finish(r) for r in runners]
    snapshots = _snapshots(db_url)
    assert sum(snapshots.values()) == SOURCES, outputs
    assert set(snapshots.values()) == {1}, outputs
    assert Counter(url for url, _ in held.requests) == Counter(held.urls)
    # Each says what it captured and what it left to the other.
    for output in outputs:
        assert _number(CAPTURED, output) + _number(SKIPPED, output) == SOURCES, output
    assert sum(_number(CAPTURED, output) for output in outputs) == SOURCES, outputs
    assert _leases(db_url) == []


def test_two_captures_with_worker_processes_capture_each_source_once(
    cli: CliRunner,
    cli_env: dict[str, str],
    simweb: SimulatedWeb,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A large run forks worker processes: the main process claims, its workers capture."""
    count = 48
    held = HeldWeb(simweb, count)
    db_url = f"sqlite:///{tmp_path / 'storage' / 'archiver.db'}"
    env = {**cli_env, **_env(simweb, db_url), "ARCHIVER_CAPTURE__WORKERS": "2"}
    assert cli("add", str(held.report(tmp_path)), env=env).returncode == 0
    held.hold()
    runners = [_start(["capture"], env, tmp_path) for _ in range(2)]
    mains = {r.pid for r in runners}
    try:
        _poll(
            "both runners' workers capturing, or one done",
            lambda: (
                len({held.parents.get(p) for p in held.pids()} & mains) == 2
                or any(r.poll() is not None for r in runners)
            ),
        )
    finally:
        held.release()
    outputs = [_finish(r) for r in runners]
    snapshots = _snapshots(db_url)
    assert len(snapshots) == count and set(snapshots.values()) == {1}, outputs
    assert Counter(url for url, _ in held.requests) == Counter(held.urls)
    # Captured by forked workers, not by the processes that claimed.
    assert held.pids().isdisjoint(mains)
    assert {held.parents[p] for p in held.pids()} <= mains
    for output in outputs:
        assert _number(CAPTURED, output) + _number(SKIPPED, output) == count, output
    assert _leases(db_url) == []


def test_capture_beside_the_daemon_leaves_its_sources_alone(
    cli: CliRunner,
    cli_env: dict[str, str],
    simweb: SimulatedWeb,  # noqa: F811
    held: HeldWeb,
    tmp_path: Path,
) -> None:
    """The finding: ``archiver capture`` run while ``archiver run`` captures took every
    source a second time."""
    db_url = f"sqlite:///{tmp_path / 'storage' / 'archiver.db'}"
    env = {**cli_env, **_env(simweb, db_url), "ARCHIVER_DAEMON__CHECK": "false"}
    assert cli("add", str(held.report(tmp_path)), env=env).returncode == 0
    held.hold()
    with daemon_process(env, tmp_path) as daemon:
        try:
            _poll("the daemon capturing", lambda: daemon.pid in held.pids())
            capture = _start(["capture"], env, tmp_path)
            _poll(
                "archiver capture capturing, or done",
                lambda: capture.pid in held.pids() or capture.poll() is not None,
            )
        finally:
            held.release()
        output = _finish(capture)
        _poll("every source captured", lambda: sum(_snapshots(db_url).values()) >= SOURCES)
        stderr = stop(daemon)
    assert daemon.returncode == 0, stderr
    assert capture.pid not in held.pids()
    assert f"skipped {SOURCES} sources another runner is capturing" in output, output
    snapshots = _snapshots(db_url)
    assert len(snapshots) == SOURCES and set(snapshots.values()) == {1}
    assert Counter(url for url, _ in held.requests) == Counter(held.urls)
    assert _leases(db_url) == []


def test_a_killed_runners_sources_are_captured_once_its_claims_expire(
    cli: CliRunner,
    cli_env: dict[str, str],
    simweb: SimulatedWeb,  # noqa: F811
    held: HeldWeb,
    tmp_path: Path,
) -> None:
    db_url = f"sqlite:///{tmp_path / 'storage' / 'archiver.db'}"
    # A short claim, so the test need not wait minutes for it to expire.
    env = {**cli_env, **_env(simweb, db_url), "ARCHIVER_CAPTURE__LEASE": "2"}
    assert cli("add", str(held.report(tmp_path)), env=env).returncode == 0
    held.hold()
    first = _start(["capture"], env, tmp_path)
    try:
        _poll("the first runner capturing", lambda: first.pid in held.pids())
        owners = {str(owner) for (owner,) in _leases(db_url)}
        assert len(_leases(db_url)) == SOURCES
        assert len(owners) == 1 and f":{first.pid}:" in owners.pop()
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=DEADLINE) == -signal.SIGKILL
    finally:
        held.release()
        if first.poll() is None:
            first.kill()
            first.wait()
        first.communicate()
    assert _snapshots(db_url) == Counter()  # killed before it recorded anything
    # Another runner takes the sources once the dead one's claims have expired.
    outputs: list[str] = []

    def captured_all() -> bool:
        result = cli("capture", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append(result.stdout)
        return sum(_snapshots(db_url).values()) >= SOURCES

    _poll("every source captured by another runner", captured_all)
    snapshots = _snapshots(db_url)
    assert len(snapshots) == SOURCES and set(snapshots.values()) == {1}, outputs
    assert _leases(db_url) == []


def test_two_checks_started_together_check_each_source_once(
    cli: CliRunner,
    cli_env: dict[str, str],
    simweb: SimulatedWeb,  # noqa: F811
    held: HeldWeb,
    db_url: str,
    tmp_path: Path,
) -> None:
    env = _env(simweb, db_url)
    assert cli("add", str(held.report(tmp_path)), env=env).returncode == 0
    assert cli("capture", env=env).returncode == 0
    held.requests.clear()
    held.hold()
    runners = [_start(["check", "--all"], {**cli_env, **env}, tmp_path) for _ in range(2)]
    try:
        _poll(
            "both runners checking, or one done",
            lambda: len(held.pids()) == 2 or any(r.poll() is not None for r in runners),
        )
    finally:
        held.release()
    outputs = [_finish(r) for r in runners]
    checks = _per_source(
        db_url,
        "SELECT source_id, count(*) FROM observations WHERE via = 'check' GROUP BY source_id",
    )
    assert len(checks) == SOURCES and set(checks.values()) == {1}, outputs
    assert Counter(url for url, _ in held.requests) == Counter(held.urls)
    for output in outputs:
        assert _number(CHECKED, output) + _number(SKIPPED_CHECKS, output) == SOURCES, output
    assert _leases(db_url) == []
