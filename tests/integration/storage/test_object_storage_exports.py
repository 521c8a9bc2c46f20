"""Report exports with storage.warc_url (docs/storage.md): the finished export (one zip,
or a folder file by file) is kept in the bucket under retention, like a package; the
web download of a report's evidence keeps its copy there too and is streamed; a bucket
that refuses the copy fails the export and leaves the local export in place. Against
moto's S3 server on 127.0.0.1 with Object Lock enabled."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archiver.app import Archive
from archiver.config import Settings
from archiver.errors import StoreError
from archiver.integrity.report_export import export_report
from archiver.models import CustodyEvent, Report
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.storage.conftest import S3
from tests.integration.storage.test_object_storage import ARTICLE, _capture, _settings
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401

# A page of about 1 MiB that gzip cannot shrink much: the export is many chunks long.
FILLER = base64.b64encode(os.urandom(768 * 1024)).decode()
BIG_BODY = (
    f"<html><head><title>Суд</title></head><body><p>Суд начал.</p><!-- {FILLER} --></body></html>"
)
STAMP = "20260102T030405Z"  # the fixed clock's time: the export's folder in the bucket


@pytest.fixture
def web(simweb: SimulatedWeb) -> SimulatedWeb:  # noqa: F811
    simweb.page(ARTICLE, BIG_BODY)
    return simweb


@pytest.fixture
def archive(
    web: SimulatedWeb,
    s3: S3,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
    local_tsa: LocalTsa,
) -> Any:
    settings = _settings(
        make_settings,
        web,
        integrity__tsa_urls=json.dumps([local_tsa.url]),
        **s3.settings(storage__object_lock_days="1"),
    )
    with Archive.open(settings, clock=clock) as opened:
        _capture(opened, tmp_path)
        (outcome,) = opened.capture()
        assert outcome.error is None, outcome
        yield opened


def _report_id(archive: Archive) -> int:
    with archive.db.session() as session:
        return session.scalars(select(Report.id)).one()


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def _assert_kept(s3: S3, key: str, local: Path) -> None:
    head = s3.client.head_object(Bucket=s3.bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ChecksumSHA256"] == _b64(hashlib.sha256(local.read_bytes()).hexdigest())
    assert head["ContentLength"] == local.stat().st_size


def test_a_report_export_is_kept_in_the_bucket_under_retention(
    archive: Archive, s3: S3, tmp_path: Path
) -> None:
    report_id = _report_id(archive)
    result = export_report(archive, report_id, tmp_path / "report.zip", "tester")
    key = f"exports/reports/{report_id}/{STAMP}/report.zip"
    assert result.stored_as == key
    _assert_kept(s3, f"archive/{key}", result.path)
    # A folder export: every file of it, under the folder's name.
    folder = export_report(archive, report_id, tmp_path / "folder", "tester").path
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert "SHA256SUMS" in files and any(f.startswith("packages/") for f in files)
    prefix = f"archive/exports/reports/{report_id}/{STAMP}/folder/"
    listed = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix)["Contents"]
    assert sorted(o["Key"].removeprefix(prefix) for o in listed) == files
    for name in files:
        _assert_kept(s3, prefix + name, folder / name)
    # The custody log says where the copy is.
    with archive.db.session() as session:
        events = session.scalars(
            select(CustodyEvent).where(CustodyEvent.action == "export_report")
        ).all()
    assert [e.details["copy"] for e in events] == [key, prefix.removeprefix("archive/")]


def test_a_bucket_that_refuses_the_copy_fails_the_export_and_keeps_it_locally(
    archive: Archive, s3: S3, tmp_path: Path
) -> None:
    report_id = _report_id(archive)
    taken = f"archive/exports/reports/{report_id}/{STAMP}/report.zip"
    s3.client.put_object(Bucket=s3.bucket, Key=taken, Body=b"someone else's")
    with pytest.raises(StoreError, match=r"report\.zip"):
        export_report(archive, report_id, tmp_path / "report.zip", "tester")
    # Nothing lost: the local export is whole, the package in it.
    with zipfile.ZipFile(tmp_path / "report.zip") as zf:
        assert zf.testzip() is None
        assert any(name.startswith("packages/") for name in zf.namelist())
    assert s3.client.get_object(Bucket=s3.bucket, Key=taken)["Body"].read() == b"someone else's"


def test_the_report_download_keeps_a_copy_in_the_bucket_and_is_streamed(
    archive: Archive, s3: S3, clock: FixedClock
) -> None:
    from archiver.web import create_app
    from archiver.web.tokens import Role, create_token

    report_id = _report_id(archive)
    _, token = create_token(archive.db, name="lawyer", role=Role.LAWYER, clock=clock)
    app = create_app(archive, archive.settings)
    messages: list[dict[str, Any]] = []

    async def download() -> None:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": f"/api/v1/reports/{report_id}/export",
            "raw_path": f"/api/v1/reports/{report_id}/export".encode(), "query_string": b"",
            "headers": [(b"host", b"t"), (b"authorization", f"Bearer {token}".encode())],
            "client": ("127.0.0.1", 1), "server": ("t", 80), "root_path": "",
        }  # fmt: skip

        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client stays connected
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        await app(scope, receive, send)

    asyncio.run(download())
    start = messages[0]
    assert start["status"] == 200, messages
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    chunks = [m["body"] for m in messages[1:] if m["type"] == "http.response.body"]
    body = b"".join(chunks)
    # Streamed from disk in chunks, never one whole body in memory.
    assert len(chunks) > 4, [len(c) for c in chunks]
    assert max(len(c) for c in chunks) <= 1 << 20
    digest = hashlib.sha256(body).hexdigest()
    assert headers["x-archiver-sha256"] == digest
    prefix = f"archive/exports/reports/{report_id}/{STAMP}/"
    (kept,) = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix)["Contents"]
    head = s3.client.head_object(Bucket=s3.bucket, Key=kept["Key"], ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == _b64(digest) and head["ObjectLockMode"] == "COMPLIANCE"
    # The local zip is gone once sent: the bucket keeps the copy.
    assert list((archive.settings.storage.root / "exports" / "web").iterdir()) == []
