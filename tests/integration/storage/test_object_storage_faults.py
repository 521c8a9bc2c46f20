"""Issue 19, "Bad input and faults", for a bucket's endpoint (docs/storage.md, "Faults"):
credentials that expire, an endpoint that stops answering, an answer lost after the
store did the write, a second writer under the same name. A proxy in front of moto's
S3 server (tests/support/s3proxy.py) plays the endpoint. Each time: a clear error in
the source's observations and the log (no traceback), no snapshot row, no WARC left on
local disk, no object written twice under one name, and the capture done again later."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from archiver.app import Archive
from archiver.config import Settings
from archiver.storage import StoreRefused, open_store
from archiver.web import create_app
from tests.conftest import FixedClock
from tests.integration.storage.conftest import S3, SECRET
from tests.integration.storage.test_object_storage import (
    _capture,
    _fails,
    _settings,
    _snapshots,
    web,  # noqa: F401
)
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401
from tests.support.s3proxy import Action, S3Proxy, S3Request, s3_proxy


@pytest.fixture
def proxy(s3: S3) -> Iterator[S3Proxy]:
    with s3_proxy(s3.endpoint) as running:
        yield running


def _through(
    make_settings: Callable[..., Settings],
    web: SimulatedWeb,  # noqa: F811
    s3: S3,
    proxy: S3Proxy,
    **more: str,
) -> Settings:
    return _settings(
        make_settings, web, **{**s3.settings(), "storage__s3_endpoint": proxy.endpoint, **more}
    )


def _readyz(archive: Archive) -> httpx.Response:
    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(archive, archive.settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/readyz")

    return asyncio.run(ask())


def _failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "capture of source" in r.getMessage()]


def _objects(s3: S3) -> list[str]:
    listed = s3.client.list_object_versions(Bucket=s3.bucket, Prefix="archive/warcs/")
    return [v["Key"] for v in listed.get("Versions", [])]


@pytest.mark.parametrize("allowed", [0, 1], ids=["at-the-head", "at-the-put"])
def test_credentials_that_expire_are_named_nothing_is_recorded_and_the_capture_retried(
    web: SimulatedWeb,  # noqa: F811
    s3: S3,
    proxy: S3Proxy,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    allowed: int,
) -> None:
    """The store answers 403 ExpiredToken after ``allowed`` more requests: the
    capture's first request (HeadObject: a status with no body, as S3 answers a HEAD),
    or its PutObject (the XML error body)."""
    settings = _through(make_settings, web, s3, proxy)
    with Archive.open(settings, clock=clock) as archive:
        _capture(archive, tmp_path)
        proxy.expire_after(allowed)
        caplog.set_level(logging.INFO)
        (outcome,) = archive.capture()
        assert outcome.error is not None
        assert "cannot write warcs/" in outcome.error, outcome.error
        assert "ExpiredToken" in outcome.error, outcome.error
        assert "credentials" in outcome.error and "expired" in outcome.error, outcome.error
        assert SECRET not in outcome.error
        assert outcome.state_after == "pending"
        assert _snapshots(archive) == [] and _objects(s3) == []
        assert list((settings.storage.root / "warcs").rglob("*.warc*")) == []
        # One line in the log that says so, no traceback.
        (logged,) = _failures(caplog)
        assert "ExpiredToken" in logged.getMessage() and logged.exc_info is None
        assert "Traceback" not in caplog.text
        # /readyz says the bucket refuses the credentials.
        ready = _readyz(archive)
        assert ready.status_code == 503
        assert "ExpiredToken" in ready.json()["object_store"], ready.json()
        assert "credentials" in ready.json()["object_store"], ready.json()
        # New credentials (the store takes them again): captured at its retry time.
        proxy.fault = lambda _: "forward"
        assert _readyz(archive).status_code == 200
        clock.advance(hours=2)
        (again,) = archive.capture()
        assert again.error is None and again.http_status == 200
        (snap,) = _snapshots(archive)
        assert _objects(s3) == [f"archive/{snap.warc_path}"]
        assert _fails(archive) == []


def test_an_endpoint_that_stops_answering_fails_the_upload_in_bounded_time(
    web: SimulatedWeb,  # noqa: F811
    s3: S3,
    proxy: S3Proxy,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every PutObject is read and never answered: botocore's read timeout
    (network.timeout) ends each attempt, its retries end, the capture fails."""
    settings = _through(make_settings, web, s3, proxy, network__timeout="2")
    with Archive.open(settings, clock=clock) as archive:
        _capture(archive, tmp_path)
        proxy.fault = lambda r: "stall" if r.operation == "PutObject" else "forward"
        caplog.set_level(logging.INFO)
        before = proxy.count("PutObject")  # the report's original went up already
        (outcome,) = archive.capture()  # returns: the pytest timeout would say otherwise
        assert outcome.error is not None
        assert "cannot write warcs/" in outcome.error and "timeout" in outcome.error.lower()
        # Retried by botocore: 4 attempts in all, then given up.
        assert proxy.count("PutObject") - before == 4
        assert _snapshots(archive) == [] and _objects(s3) == []
        assert list((settings.storage.root / "warcs").rglob("*.warc*")) == []
        (logged,) = _failures(caplog)
        assert logged.exc_info is None and "Traceback" not in caplog.text
        proxy.fault = lambda _: "forward"
        clock.advance(hours=2)
        (again,) = archive.capture()
        assert again.error is None and again.http_status == 200
        (snap,) = _snapshots(archive)
        assert _objects(s3) == [f"archive/{snap.warc_path}"]


@pytest.mark.parametrize("operation", ["PutObject", "CompleteMultipartUpload"])
def test_an_answer_lost_after_the_store_wrote_the_object_is_not_a_failure(
    s3: S3,
    proxy: S3Proxy,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    operation: str,
) -> None:
    """The store writes the object, its answer never arrives, botocore sends the request
    again and the store answers 412 (If-None-Match: the name is taken, by us). The
    object holds our bytes: the upload succeeded, once, rather than failing and leaving
    an object no snapshot refers to."""
    settings = make_settings(
        **{**s3.settings(), "storage__s3_endpoint": proxy.endpoint},
        network__timeout="2",
        storage__object_lock_days="1",
        storage__s3_part_size=str(5 * 2**20),
    )
    store = open_store(settings)
    local = tmp_path / "one.warc.gz"
    size = 11 * 2**20 if operation == "CompleteMultipartUpload" else 8192
    local.write_bytes(bytes(range(256)) * (size // 256))
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    lost: list[S3Request] = []

    def fault(request: S3Request) -> Action:
        if request.operation == operation and not lost:
            lost.append(request)
            return "forward-then-stall"
        return "forward"

    proxy.fault = fault
    key = "warcs/2026/01/02/ab/1-lost.warc.gz"
    info = store.put_file(local, key, sha256=digest, size=size)
    assert proxy.count(operation) == 2  # the lost one and botocore's retry
    assert info.size == size and info.lock_mode == "COMPLIANCE"
    versions = s3.client.list_object_versions(Bucket=s3.bucket, Prefix=f"archive/{key}")
    assert len(versions["Versions"]) == 1


@pytest.mark.parametrize("size", [8000, 11 * 2**20], ids=["one-put", "multipart"])
def test_a_name_taken_meanwhile_is_never_written_over(
    s3: S3,
    proxy: S3Proxy,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    size: int,
) -> None:
    """No Object Lock (nothing in the store itself refuses an overwrite): another writer
    puts an object under the same name after our check that the name is free and before
    our write lands. Our write is refused (If-None-Match: *), theirs stays, one version."""
    settings = make_settings(
        **{**s3.settings(), "storage__s3_endpoint": proxy.endpoint},
        storage__s3_part_size=str(5 * 2**20),
    )
    store = open_store(settings)
    key = "warcs/2026/01/02/ab/2-race.warc.gz"
    final = "PutObject" if size == 8000 else "CompleteMultipartUpload"

    def fault(request: S3Request) -> Action:
        if request.operation == final and not s3.client.list_objects_v2(
            Bucket=s3.bucket, Prefix=f"archive/{key}"
        ).get("KeyCount"):
            s3.client.put_object(Bucket=s3.bucket, Key=f"archive/{key}", Body=b"theirs")
        return "forward"

    proxy.fault = fault
    local = tmp_path / "ours.warc.gz"
    local.write_bytes(b"o" * size)
    with pytest.raises(StoreRefused, match="never overwritten"):
        store.put_file(local, key, sha256=hashlib.sha256(local.read_bytes()).hexdigest(), size=size)
    versions = s3.client.list_object_versions(Bucket=s3.bucket, Prefix=f"archive/{key}")
    assert len(versions["Versions"]) == 1
    body = s3.client.get_object(Bucket=s3.bucket, Key=f"archive/{key}")["Body"].read()
    assert body == b"theirs"
