"""``kill -9`` of ``archiver capture`` while its forked workers capture: nothing is left
running, no WARC file lacks its row, and ``archiver verify --store`` fails on a file no
snapshot refers to until ``--quarantine-orphans`` moves it aside (docs/capture.md,
"Worker processes"; docs/integrity.md, "archiver verify")."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import CliRunner
from tests.simweb import SimulatedWeb
from tests.simweb.behaviours import Response, response
from tests.simweb.fixtures import simweb  # noqa: F401
from tests.simweb.messages import Request
from tests.simweb.registry import Handler
from tests.simweb.remote import client_process

pytestmark = pytest.mark.slow

QUARANTINE = "archiver verify --store --quarantine-orphans"
# Generous bounds: the promise is 2 s; a loaded test machine gets far more.
DEADLINE = 30.0
FAST = 6  # requests answered at once; every later one waits until the test releases it


def _poll(what: str, condition: Callable[[], bool], deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"not within {deadline:.0f} s: {what}")
        time.sleep(0.05)


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (a dead child nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _rows(database: Path) -> set[str]:
    if not database.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
            return {row[0] for row in db.execute("SELECT warc_path FROM snapshots")}
    except sqlite3.OperationalError:  # not created yet, or busy
        return set()


def _files(storage: Path, pattern: str) -> set[str]:
    warcs = storage / "warcs"
    return {p.relative_to(storage).as_posix() for p in warcs.rglob(pattern) if p.is_file()}


class HeldWeb:
    """48 PDFs on six hosts (worker material): the first ``FAST`` requests are answered at
    once, later ones are held until :meth:`release`; every request notes its process."""

    def __init__(self, web: SimulatedWeb) -> None:
        self.urls: list[str] = []
        self.answered = 0
        self.held: list[tuple[int, int]] = []  # (pid, ppid) of each held request
        self._released = threading.Event()
        for h in range(6):
            for i in range(8):
                url = f"https://news{h}.example.kz/files/{h * 100 + i}.pdf"
                body = f"%PDF-1.4\n% document {h * 100 + i}\n%%EOF\n".encode()
                web.page(url, self._handler(web, body))
                self.urls.append(url)

    def _handler(self, web: SimulatedWeb, body: bytes) -> Handler:
        async def handle(request: Request) -> Response:
            if self.answered < FAST:
                self.answered += 1
            else:
                self.held.append(client_process(request.client, web.port))
                end = time.monotonic() + 120
                while not self._released.is_set() and time.monotonic() < end:
                    await asyncio.sleep(0.05)
            return response(body, content_type="application/pdf")

        return handle

    def release(self) -> None:
        self._released.set()

    def workers(self, parent: int) -> set[int]:
        return {pid for pid, ppid in list(self.held) if ppid == parent and pid}


def test_kill_9_of_a_capture_leaves_no_worker_and_no_warc_without_its_row(
    cli: CliRunner,
    cli_env: dict[str, str],
    simweb: SimulatedWeb,  # noqa: F811
    tmp_path: Path,
) -> None:
    held = HeldWeb(simweb)
    report = tmp_path / "r.txt"
    lines = [f"Claim number {i}[{i}]." for i in range(1, len(held.urls) + 1)]
    lines += [f"[{i}]{u}" for i, u in enumerate(held.urls, 1)]
    report.write_text("\n\n".join(lines), encoding="utf-8")
    env = {
        "ARCHIVER_NETWORK__PROXY": simweb.proxy_url,
        "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
        "ARCHIVER_CAPTURE__EXTRA_CA_FILE": str(simweb.ca_pem_path),
        "ARCHIVER_CAPTURE__MODES": '{default = ["http"]}',
        "ARCHIVER_CAPTURE__WORKERS": "2",
    }
    assert cli("add", str(report), env=env).returncode == 0
    storage = tmp_path / "storage"
    database = storage / "archiver.db"
    capture = subprocess.Popen(
        [sys.executable, "-m", "archiver", "capture"],
        cwd=tmp_path,
        env={**cli_env, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: set[int] = set()
    try:
        # Mid-run: the answered pages recorded, both workers waiting for held pages.
        _poll("the answered pages recorded", lambda: len(_rows(database)) >= FAST, 60)
        _poll("both workers fetching", lambda: len(held.workers(capture.pid)) == 2, 60)
        workers = held.workers(capture.pid)
        assert capture.pid not in workers
        capture.send_signal(signal.SIGKILL)
        assert capture.wait(timeout=DEADLINE) == -signal.SIGKILL
        _poll(f"workers {sorted(workers)} gone", lambda: not any(map(_running, workers)))
    finally:
        held.release()
        if capture.poll() is None:
            capture.kill()
            capture.wait()
        for pid in workers:  # only if the test failed: nothing of ours left behind
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
    # Nobody is left to write: every WARC file on disk has its row, and no part file
    # was left (nothing was being written when the run was killed).
    rows = _rows(database)
    assert len(rows) == FAST
    assert _files(storage, "*.warc.gz") == rows
    assert _files(storage, "*.part") == set()
    verified = cli("verify", "--store", "--quiet")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "VERIFIED" in verified.stdout

    # A crash between a file and its row (an hour ago), and a capture killed mid-file.
    recorded = storage / sorted(rows)[0]
    orphan = recorded.with_name("999-00000000-0000-4000-8000-000000000000.warc.gz")
    shutil.copyfile(recorded, orphan)
    part = recorded.with_name(f".{orphan.name}.0123456789abcdef.part")
    part.write_bytes(recorded.read_bytes()[:100])
    an_hour_ago = time.time() - 3600
    for path in (orphan, part):
        os.utime(path, (an_hour_ago, an_hour_ago))
    orphan_rel = orphan.relative_to(storage).as_posix()
    part_rel = part.relative_to(storage).as_posix()
    orphan_bytes, part_bytes = orphan.read_bytes(), part.read_bytes()

    failed = cli("verify", "--store", "--quiet")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    fails = [line for line in failed.stdout.splitlines() if line.startswith("FAIL ")]
    assert any(line.startswith(f"FAIL {orphan_rel}: ") for line in fails), failed.stdout
    assert any(line.startswith(f"FAIL {part_rel}: ") for line in fails), failed.stdout
    assert len(fails) == 2, failed.stdout
    assert QUARANTINE in failed.stdout

    moved = cli("verify", "--store", "--quarantine-orphans", "--quiet")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert not orphan.exists() and not part.exists()
    quarantined = {
        p.relative_to(storage).as_posix(): p.read_bytes()
        for p in (storage / "quarantine").rglob("*")
        if p.is_file()
    }
    assert sorted(quarantined.values()) == sorted([orphan_bytes, part_bytes])
    assert all(name.endswith(orphan_rel) or name.endswith(part_rel) for name in quarantined)
    assert recorded.is_file()  # evidence with a row is never touched
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        logged = {
            row[0]
            for row in db.execute(
                "SELECT subject_id FROM custody_events WHERE action = 'quarantine'"
            )
        }
    assert logged == {orphan_rel, part_rel}
    after = cli("verify", "--store", "--quiet")
    assert after.returncode == 0, after.stdout + after.stderr
