"""``kill -9`` of ``archiver capture`` in the middle of a multipart upload to the bucket
(issue 19, "Bad input and faults"; docs/storage.md, "Faults"): the proxy in front of
moto's S3 server holds the upload's parts, so the kill lands mid-upload for certain.
Afterwards no object and no snapshot row exist for that WARC (an incomplete multipart
upload is left, invisible as an object), the local WARC stays as a stray file that
``archiver verify --store`` names, and the next run captures the source again under a
new name, once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import CliRunner
from tests.integration.storage.conftest import KEY_ID, S3, SECRET, moto_endpoint, s3  # noqa: F401
from tests.simweb import SimulatedWeb
from tests.simweb.behaviours import response
from tests.simweb.fixtures import simweb  # noqa: F401
from tests.support.s3proxy import S3Proxy, s3_proxy, wait_for

pytestmark = pytest.mark.slow

VIDEO = "https://media.example.kz/files/hearing.mp4"
PART = 5 * 2**20  # the smallest part S3 takes: a 12 MiB WARC goes up in 3 parts
DEADLINE = 90.0


@pytest.fixture
def proxy(s3: S3) -> Iterator[S3Proxy]:  # noqa: F811
    with s3_proxy(s3.endpoint) as running:
        yield running


def _rows(database: Path) -> list[str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        return [row[0] for row in db.execute("SELECT warc_path FROM snapshots")]


def test_kill_9_mid_upload_leaves_no_object_and_no_row_and_the_next_run_uses_a_new_name(
    cli: CliRunner,
    cli_env: dict[str, str],
    simweb: SimulatedWeb,  # noqa: F811
    s3: S3,  # noqa: F811
    proxy: S3Proxy,
    tmp_path: Path,
) -> None:
    # Incompressible, so the WARC is as large as the body.
    simweb.page(VIDEO, response(os.urandom(12 * 2**20), content_type="video/mp4"))
    report = tmp_path / "r.txt"
    report.write_text(f"The hearing was filmed[1].\n\n[1]{VIDEO}\n", encoding="utf-8")
    env = {
        "ARCHIVER_NETWORK__PROXY": simweb.proxy_url,
        "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
        "ARCHIVER_CAPTURE__EXTRA_CA_FILE": str(simweb.ca_pem_path),
        "ARCHIVER_CAPTURE__MODES": '{default = ["http"]}',
        # The killed run's claim on the source ends soon after its last renewal.
        "ARCHIVER_CAPTURE__LEASE": "2",
        "ARCHIVER_STORAGE__WARC_URL": f"s3://{s3.bucket}/archive",
        "ARCHIVER_STORAGE__S3_ENDPOINT": proxy.endpoint,
        "ARCHIVER_STORAGE__S3_REGION": "us-east-1",
        "ARCHIVER_STORAGE__S3_ACCESS_KEY_ID": KEY_ID,
        "ARCHIVER_STORAGE__S3_SECRET_ACCESS_KEY": SECRET,
        "ARCHIVER_STORAGE__S3_PART_SIZE": str(PART),
        "ARCHIVER_STORAGE__OBJECT_LOCK_DAYS": "1",
    }
    added = cli("add", str(report), env=env)
    assert added.returncode == 0, added.stderr
    storage = tmp_path / "storage"

    proxy.fault = lambda r: "hold" if r.operation == "UploadPart" else "forward"
    capture = subprocess.Popen(
        [sys.executable, "-m", "archiver", "capture"],
        cwd=tmp_path,
        env={**cli_env, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for("a part of the upload in flight", proxy.held.is_set, DEADLINE)
        capture.send_signal(signal.SIGKILL)
        assert capture.wait(timeout=DEADLINE) == -signal.SIGKILL
    finally:
        if capture.poll() is None:
            capture.kill()
            capture.wait()
    proxy.stop.set()  # the held parts end unanswered, their process is gone

    # The upload was begun, never completed: no object, no row.
    (upload,) = s3.client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])
    killed = upload["Key"].removeprefix("archive/")
    assert killed.startswith("warcs/") and killed.endswith(".warc.gz")

    def objects() -> list[str]:
        listed = s3.client.list_object_versions(Bucket=s3.bucket, Prefix="archive/warcs/")
        return [v["Key"].removeprefix("archive/") for v in listed.get("Versions", [])]

    assert objects() == []
    assert _rows(storage / "archiver.db") == []
    # The sealed WARC stays on local disk: a stray that verify --store names.
    assert (storage / killed).is_file()
    verified = cli("verify", "--store", env=env)
    assert killed in verified.stdout, verified.stdout + verified.stderr
    assert "no snapshot refers to" in verified.stdout

    # The next run (its claim on the source expired) captures it again: a new name.
    proxy.fault = lambda _: "forward"
    end = time.monotonic() + DEADLINE
    while not _rows(storage / "archiver.db"):
        assert time.monotonic() < end, "the source was not captured again"
        again = cli("capture", env=env)
        assert again.returncode == 0, again.stderr
    (recorded,) = _rows(storage / "archiver.db")
    assert recorded != killed
    assert objects() == [recorded]  # one version, nothing written twice
    head = s3.client.head_object(Bucket=s3.bucket, Key=f"archive/{recorded}")
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ContentLength"] > 12 * 2**20
    # The killed upload's parts stay until the bucket's lifecycle rule aborts them
    # (docs/storage.md): nothing in the archiver completes or reuses them.
    (left,) = s3.client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])
    assert left["Key"] == f"archive/{killed}"
