"""A full disk on a worker (issue 19, "Bad input and faults"; docs/scale.md, "Faults").

``archiver run`` (procrastinate, a fresh PostgreSQL database) and one
``archiver worker --queues capture`` whose storage root is a tiny tmpfs of its own (a
worker's local disk). The worker captures a first group of sources; then, while it
waits on the network for the next group, its disk is filled to the last byte. Each of
those captures fails with one plain log line saying the disk is full (no traceback), its
source records the error and gets no snapshot row, no WARC (final or partial) is left
behind, and the worker keeps running. Once space is freed and the retry time has come
(moved forward by the test: the back-off is 10 minutes), each source is captured
exactly once, under a name of its own. Root only (mounting a tmpfs); skipped elsewhere.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import CliRunner
from tests.e2e.test_workers import (
    Cluster,
    HeldWeb,
    _jobs,
    _leases,
    _poll,
    _query,
    _query_write,
    _snapshots,
    cluster,  # noqa: F401
    queue_db,  # noqa: F401
)
from tests.integration.storage.conftest import KEY_ID, S3, SECRET, moto_endpoint, s3  # noqa: F401
from tests.simweb import SimulatedWeb
from tests.simweb.behaviours import response
from tests.simweb.fixtures import simweb  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FIRST = 4  # captured while the disk has room
LATER = 8  # captured while it is full, then again once space is freed
DEADLINE = 90.0


@pytest.fixture
def worker_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs: the worker's own disk (root only; skipped elsewhere)."""
    mount_point = tmp_path / "worker-disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file until the file system holding ``folder`` has no byte left."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as fh:
        chunk = b"\0" * 65536
        while True:
            try:
                fh.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                if len(chunk) == 1:
                    break
                chunk = chunk[: len(chunk) // 2]
    stat = os.statvfs(folder)
    assert stat.f_bavail == 0
    return filler


def _report(folder: Path, urls: list[str]) -> Path:
    folder.mkdir()
    path = folder / "report.txt"
    lines = [f"Claim number {i}[{i}]." for i in range(1, len(urls) + 1)]
    lines += [f"[{i}]{url}" for i, url in enumerate(urls, 1)]
    path.write_text("\n\n".join(lines), encoding="utf-8")
    return path


def _ids(db_url: str, urls: list[str]) -> set[int]:
    rows = _query(db_url, "SELECT id, url FROM sources")
    return {int(str(i)) for i, url in rows if url in urls}


def _disk_full_errors(db_url: str) -> dict[int, list[str]]:
    rows = _query(
        db_url,
        "SELECT source_id, reason FROM observations WHERE via = 'capture' "
        "AND snapshot_id IS NULL ORDER BY id",
    )
    found: dict[int, list[str]] = {}
    for source_id, reason in rows:
        found.setdefault(int(str(source_id)), []).append(str(reason))
    return found


def _warcs(root: Path) -> list[Path]:
    """Every file under the WARC folder, finished or partial (``.*.part``)."""
    folder = root / "warcs"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize("store", ["local", "bucket"])
def test_a_full_disk_on_a_worker_fails_each_capture_plainly_and_loses_nothing(
    store: str,
    request: pytest.FixtureRequest,
    cli: CliRunner,
    cluster: Cluster,  # noqa: F811
    simweb: SimulatedWeb,  # noqa: F811
    queue_db: str,  # noqa: F811
    tmp_path: Path,
    worker_disk: Path,
) -> None:
    held = HeldWeb(simweb, FIRST + LATER)
    first, later = held.urls[:FIRST], held.urls[FIRST:]
    # The signing keys are the deployment's (one folder for both processes); the WARCs
    # are written on the worker's own disk.
    cluster.env["ARCHIVER_INTEGRITY__KEY_DIR"] = str(tmp_path / "keys")
    worker_root = worker_disk / "storage"
    bucket: S3 | None = None
    if store == "bucket":
        # With storage.warc_url the WARC is still written to storage.root first, then
        # uploaded (and removed locally) before its row is written.
        bucket = request.getfixturevalue("s3")
        cluster.env.update(
            ARCHIVER_STORAGE__WARC_URL=f"s3://{bucket.bucket}/archive",
            ARCHIVER_STORAGE__S3_ENDPOINT=bucket.endpoint,
            ARCHIVER_STORAGE__S3_REGION="us-east-1",
            ARCHIVER_STORAGE__S3_ACCESS_KEY_ID=KEY_ID,
            ARCHIVER_STORAGE__S3_SECRET_ACCESS_KEY=SECRET,
        )
    added = cli("add", str(_report(tmp_path / "first", first)), env=cluster.env)
    assert added.returncode == 0, added.stderr
    daemon = cluster.start("run")
    worker_env = {**cluster.env, "ARCHIVER_STORAGE__ROOT": str(worker_root)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "archiver", "worker", "--queues", "capture"],
        cwd=cluster.cwd,
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cluster.processes.append(worker)
    _poll("the first sources captured", lambda: len(_snapshots(queue_db)) == FIRST, DEADLINE)
    captured_first = _warcs(worker_root)
    assert len(captured_first) == (FIRST if bucket is None else 0)

    # The next group: the worker waits on the network while its disk fills up.
    held.hold()
    try:
        added = cli("add", str(_report(tmp_path / "later", later)), env=cluster.env)
        assert added.returncode == 0, added.stderr
        later_ids = _ids(queue_db, later)
        assert len(later_ids) == LATER
        _poll(
            "the worker asking for the later pages",
            lambda: {url for url, _ in list(held.requests)} >= set(later),
            DEADLINE,
        )
        filler = _fill(worker_disk)
    finally:
        held.release()

    def failed_all() -> bool:
        assert worker.poll() is None, worker.communicate()
        return set(_disk_full_errors(queue_db)) >= later_ids

    _poll("each later capture failing", failed_all, DEADLINE)
    errors = _disk_full_errors(queue_db)
    for source_id in later_ids:
        assert len(errors[source_id]) == 1, errors[source_id]
        assert "disk full: " in errors[source_id][0], errors[source_id]
        assert str(worker_root) in errors[source_id][0], errors[source_id]
    assert set(_snapshots(queue_db)) & later_ids == set()
    # No WARC of theirs, not even a partial one: only the first group's files.
    assert _warcs(worker_root) == captured_first

    # Space freed; the retry time come (the test moves it, instead of waiting 10 min).
    filler.unlink()
    _query_write(
        queue_db,
        "UPDATE sources SET next_capture_at = now() - interval '1 second' "
        f"WHERE id IN ({','.join(map(str, sorted(later_ids)))})",
    )

    def all_captured() -> bool:
        assert worker.poll() is None, worker.communicate()
        return len(_snapshots(queue_db)) == FIRST + LATER and _jobs(queue_db, "doing") == 0

    _poll("every source captured after the space was freed", all_captured, DEADLINE)
    worker_log = cluster.stop(worker)
    daemon_log = cluster.stop(daemon)
    snapshots = _snapshots(queue_db)
    assert len(snapshots) == FIRST + LATER and set(snapshots.values()) == {1}
    # Each row names a WARC that is there; one file per row, each under its own name.
    paths = [str(row[0]) for row in _query(queue_db, "SELECT warc_path FROM snapshots")]
    assert len(set(paths)) == len(paths)
    if bucket is None:
        assert sorted(worker_root / p for p in paths) == _warcs(worker_root)
    else:
        assert _warcs(worker_root) == []
        listed = bucket.client.list_object_versions(Bucket=bucket.bucket)
        keys = sorted(v["Key"] for v in listed["Versions"] if "/warcs/" in v["Key"])
        assert keys == sorted(f"archive/{p}" for p in paths)  # one version each
    assert _leases(queue_db) == 0 and _jobs(queue_db, "failed") == 0
    # One plain line per failed capture saying the disk is full; no traceback.
    full_lines = [line for line in worker_log.splitlines() if "disk full: " in line]
    assert len(full_lines) == LATER, worker_log
    assert all(" ERROR " in line and "capture of source" in line for line in full_lines)
    assert "Traceback" not in worker_log, worker_log
    assert "Traceback" not in daemon_log, daemon_log


def _leave_free(folder: Path, room: int) -> Path:
    """Fill the file system holding ``folder`` up to ``room`` bytes left free."""
    filler = folder / "filler"
    stat = os.statvfs(folder)
    filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - room))
    return filler


def test_a_body_spooled_onto_a_full_disk_is_not_taken_for_a_network_failure(
    cli: CliRunner,
    simweb: SimulatedWeb,  # noqa: F811
    tmp_path: Path,
    worker_disk: Path,
) -> None:
    """A body past 1 MiB waits in ``<storage.root>/tmp`` for its WARC file: when that
    write finds the disk full, the capture fails as "disk full", and no snapshot says
    the site failed (the small WARC of a failed fetch would still fit)."""
    url = "https://outlet1.example.kz/files/evidence.bin"
    simweb.page(url, response(os.urandom(3 * 2**20), content_type="application/octet-stream"))
    env = {
        "ARCHIVER_STORAGE__ROOT": str(worker_disk / "storage"),
        "ARCHIVER_STORAGE__DATABASE_URL": f"sqlite:///{tmp_path / 'archiver.db'}",
        "ARCHIVER_INTEGRITY__KEY_DIR": str(tmp_path / "keys"),
        "ARCHIVER_NETWORK__PROXY": simweb.proxy_url,
        "ARCHIVER_CAPTURE__EXTRA_CA_FILE": str(simweb.ca_pem_path),
        "ARCHIVER_CAPTURE__MODES": '{default = ["http"]}',
    }
    added = cli("add", str(_report(tmp_path / "r", [url])), env=env)
    assert added.returncode == 0, added.stderr
    (worker_disk / "storage" / "tmp").mkdir(parents=True, exist_ok=True)
    _leave_free(worker_disk, 512 * 1024)
    captured = cli("capture", "--json", env=env)
    database = tmp_path / "archiver.db"
    with sqlite3.connect(database) as db:
        snapshots = db.execute("SELECT failure_kind, failure_message FROM snapshots").fetchall()
        reasons = [r for (r,) in db.execute("SELECT reason FROM observations WHERE via='capture'")]
    assert snapshots == [], (snapshots, captured.stdout)
    assert len(reasons) == 1 and "disk full: " in reasons[0], reasons
    assert "Traceback" not in captured.stderr, captured.stderr
