"""Plain-HTTP captures in forked worker processes (archiver.capture.workers) upload to
the bucket themselves, each with its own S3 client. In a module of its own: the other
module's moto server runs in a thread of the test process, and a process with another
thread never forks; here moto runs in a spawned process (``moto_process``)."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

import boto3  # type: ignore[import-untyped]
from sqlalchemy import select

from archiver.app import Archive
from archiver.config import Settings
from archiver.integrity.verify_store import verify_store
from archiver.models import Snapshot
from tests.conftest import FixedClock
from tests.integration.capture.test_capture_workers import (
    HTTP_ONLY,
    _documents,
    _lone_thread,
    _report,
)
from tests.integration.storage.conftest import S3
from tests.simweb.remote import RemoteWeb


def test_forked_capture_workers_upload_to_the_bucket(
    moto_process: str,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    client = boto3.client(
        "s3", endpoint_url=moto_process, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
    )  # fmt: skip
    client.create_bucket(Bucket="evidence-forked", ObjectLockEnabledForBucket=True)
    bucket = S3(moto_process, "evidence-forked", client)
    pages = _documents()
    try:
        with RemoteWeb(pages) as web:
            settings = make_settings(
                network__proxy=web.proxy_url,
                capture__extra_ca_file=str(web.ca_pem_path),
                capture__per_host_interval="0",
                capture__workers="2",
                capture__modes=HTTP_ONLY,
                **bucket.settings(storage__object_lock_days="1"),
            )
            with Archive.open(settings, clock=clock) as archive:
                archive.add(str(_report([p.url for p in pages], tmp_path / "r.txt")))
                _lone_thread()
                outcomes = archive.capture()
                assert len(outcomes) == 48 and all(o.error is None for o in outcomes)
                # Fetched and uploaded by two forked workers (each its own S3 client).
                assert len({hit.pid for hit in web.hits()}) == 2
                with archive.db.session() as session:
                    snapshots = list(session.scalars(select(Snapshot)))
                assert len(snapshots) == 48
                for snap in snapshots:
                    head = client.head_object(Bucket=bucket.bucket, Key=f"archive/{snap.warc_path}")
                    assert head["ContentLength"] == snap.warc_size
                    assert head["ObjectLockMode"] == "COMPLIANCE"
                assert list((settings.storage.root / "warcs").rglob("*.warc.gz")) == []
                assert not verify_store(archive).failed
    finally:
        gc.unfreeze()
