"""WARCs in an S3-compatible bucket (storage.warc_url, docs/storage.md), against moto's
S3 server on 127.0.0.1 with Object Lock enabled: a capture through the simulated web
lands in the bucket under retention and verifies; the store cannot delete or overwrite
an object under retention; verify --store finds a removed or an altered object; a
bucket that refuses the write records nothing and the capture is done again."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest
from sqlalchemy import select

from archiver.app import Archive
from archiver.config import Settings
from archiver.config_display import display_settings
from archiver.errors import StoreError
from archiver.integrity.verify_store import verify_store
from archiver.models import Report, Snapshot, Source
from archiver.storage import ObjectInfo, StoreRefused, object_sha256, open_store
from archiver.web import create_app
from archiver.web.tokens import Role, create_token
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.storage.conftest import S3, SECRET
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401

ARTICLE = "http://rus.azattyq.org/a/33012345.html"
BODY = (
    "<html><head><title>Суд</title></head><body><p>Суд начал рассмотрение дела.</p></body></html>"
)


@pytest.fixture
def web(simweb: SimulatedWeb) -> SimulatedWeb:  # noqa: F811
    simweb.page(ARTICLE, BODY)
    return simweb


def _settings(make_settings: Callable[..., Settings], web: SimulatedWeb, **more: str) -> Settings:
    settings = make_settings(network__proxy=web.proxy_url, capture__per_host_interval="0", **more)
    # Plain HTTP only: the browser capture has its own (slow) tests.
    http_only = {"default": ("http",), "article": ("http",)}
    return settings.model_copy(
        update={"capture": settings.capture.model_copy(update={"modes": http_only})}
    )


def _capture(archive: Archive, tmp_path: Path) -> None:
    report = tmp_path / "digest.md"
    report.write_text(f"A trial began [^1].\n\n[^1]: {ARTICLE}\n", encoding="utf-8")
    archive.add(str(report))


def _snapshots(archive: Archive) -> list[Snapshot]:
    with archive.db.session() as session:
        return list(session.scalars(select(Snapshot)))


def _fails(archive: Archive) -> list[str]:
    return [f.line() for f in verify_store(archive) if f.status == "fail"]


def _token(archive: Archive, clock: FixedClock, role: Role) -> str:
    _, token = create_token(archive.db, name=f"{role.value}-person", role=role, clock=clock)
    return token


def _web_get(
    archive: Archive, path: str, token: str | None = None, settings: Settings | None = None
) -> httpx.Response:
    """One GET to the archive's web app, in-process (``settings``: the app's, when
    they differ from the archive's)."""

    async def get() -> httpx.Response:
        app = create_app(archive, settings or archive.settings)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(get())


def test_a_capture_lands_in_the_bucket_under_retention_and_verifies(
    web: SimulatedWeb,
    s3: S3,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    settings = _settings(make_settings, web, **s3.settings(storage__object_lock_days="30"))
    with Archive.open(settings, clock=clock) as archive:
        _capture(archive, tmp_path)
        (outcome,) = archive.capture()
        assert outcome.error is None and outcome.http_status == 200
        (snap,) = _snapshots(archive)
        key = f"archive/{snap.warc_path}"
        head = s3.client.head_object(Bucket=s3.bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ContentLength"] == snap.warc_size
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=29)
        # The store's own checksum is the file's sha256 the row recorded.
        assert head["ChecksumSHA256"] == _b64(snap.warc_sha256)
        body = s3.client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == snap.warc_sha256
        assert BODY.encode() in _gunzip_all(body)
        # Not kept on local disk as well: the bucket holds it.
        assert not (settings.storage.root / snap.warc_path).exists()
        assert list((settings.storage.root / "warcs").rglob("*.warc.gz")) == []
        found = verify_store(archive)
        assert not found.failed, [f.line() for f in found if f.status == "fail"]
        lines = [f.line() for f in found if f.item == snap.warc_path]
        assert any("under COMPLIANCE retention until" in line for line in lines), lines
        assert any("record digests verify" in line for line in lines), lines
        # The report's original too: a copy under retention, checked by verify.
        with archive.db.session() as session:
            (report,) = session.scalars(select(Report))
            stored_path, report_sha = report.stored_path, report.sha256
        copy = s3.client.head_object(Bucket=s3.bucket, Key=f"archive/{stored_path}")
        assert copy["ObjectLockMode"] == "COMPLIANCE"
        assert f"{stored_path}: report {report.id}'s original: sha256 {report_sha} as recorded" in [
            f"{f.item}: {f.detail}" for f in found
        ]
        # Read back by the readers: streamed from the bucket.
        assert object_sha256(open_store(settings), snap.warc_path) == snap.warc_sha256
    # The keys are never shown with the settings.
    assert SECRET not in json.dumps(display_settings(settings), default=str)
    assert SECRET not in repr(settings)


@pytest.mark.parametrize("mode", ["COMPLIANCE", "GOVERNANCE"])
def test_an_object_under_retention_cannot_be_deleted_or_overwritten(
    s3: S3, make_settings: Callable[..., Settings], tmp_path: Path, mode: str
) -> None:
    settings = make_settings(
        **s3.settings(storage__object_lock_days="1", storage__object_lock_mode=mode)
    )
    store = open_store(settings)
    local = tmp_path / "one.warc.gz"
    local.write_bytes(b"evidence" * 1000)
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    key = "warcs/2026/01/02/ab/1-x.warc.gz"
    info = store.put_file(local, key, sha256=digest, size=8000)
    assert info.lock_mode == mode and info.retain_until is not None
    # GOVERNANCE too: the archiver never sends the bypass header.
    with pytest.raises(StoreRefused, match="AccessDenied"):
        store.delete(key)  # type: ignore[attr-defined]
    other = tmp_path / "other.warc.gz"
    other.write_bytes(b"forgery!" * 1000)
    with pytest.raises(StoreRefused, match="never overwritten"):
        store.put_file(other, key, sha256=hashlib.sha256(other.read_bytes()).hexdigest(), size=8000)
    # The same bytes again (an upload retried after a crash) are accepted, not rewritten.
    assert store.put_file(local, key, sha256=digest, size=8000).size == 8000
    assert object_sha256(store, key) == digest
    versions = s3.client.list_object_versions(Bucket=s3.bucket, Prefix=f"archive/{key}")
    assert len(versions["Versions"]) == 1


def test_a_large_file_goes_up_in_parts_with_its_checksum_checked(
    s3: S3, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(
        **s3.settings(storage__object_lock_days="1", storage__s3_part_size=str(5 * 2**20))
    )
    store = open_store(settings)
    local = tmp_path / "video.warc.gz"
    with local.open("wb") as fh:
        for n in range(12):
            fh.write(bytes([n]) * 2**20)
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    key = "warcs/2026/01/02/cd/2-y.warc.gz"
    info = store.put_file(local, key, sha256=digest, size=12 * 2**20)
    assert info.lock_mode == "COMPLIANCE"
    # Three parts of 5, 5 and 2 MiB: the store's checksum is the composite one, the
    # SHA-256 of the parts' SHA-256s (AWS appends "-3"; moto does not).
    data = local.read_bytes()
    parts = [data[i : i + 5 * 2**20] for i in range(0, len(data), 5 * 2**20)]
    composite = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).hexdigest()
    assert len(parts) == 3
    assert info.checksum is not None
    assert info.checksum.partition("-")[0] == _b64(composite)
    assert object_sha256(store, key) == digest


def test_a_file_that_is_not_what_was_sealed_is_not_stored(
    s3: S3, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Parts are read from the file as they are sent: a file whose bytes are not the
    sealed SHA-256, or shorter than the sealed size, leaves no object and no upload."""
    settings = make_settings(**s3.settings(storage__s3_part_size=str(5 * 2**20)))
    store = open_store(settings)
    local = tmp_path / "video.warc.gz"
    local.write_bytes(b"\1" * (12 * 2**20))
    sealed = hashlib.sha256(b"\2" * (12 * 2**20)).hexdigest()
    with pytest.raises(StoreError, match="changed on disk after it was sealed"):
        store.put_file(local, "warcs/a.warc.gz", sha256=sealed, size=12 * 2**20)
    with pytest.raises(StoreError, match="got shorter"):
        store.put_file(local, "warcs/b.warc.gz", sha256=sealed, size=13 * 2**20)
    assert store.stat("warcs/a.warc.gz") is None and store.stat("warcs/b.warc.gz") is None
    assert s3.client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []) == []


def test_verify_store_finds_an_altered_and_a_removed_object(
    web: SimulatedWeb,
    s3: S3,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    # No retention here: someone with the bucket's keys can replace or delete objects.
    settings = _settings(make_settings, web, **s3.settings())
    with Archive.open(settings, clock=clock) as archive:
        _capture(archive, tmp_path)
        archive.capture()
        (snap,) = _snapshots(archive)
        assert _fails(archive) == []
        key = f"archive/{snap.warc_path}"
        s3.client.put_object(Bucket=s3.bucket, Key=key, Body=b"altered")
        with archive.db.session() as session:
            (report,) = session.scalars(select(Report))
        s3.client.put_object(Bucket=s3.bucket, Key=f"archive/{report.stored_path}", Body=b"x")
        fails = _fails(archive)
        assert any(snap.warc_path in line and "sha256" in line for line in fails), fails
        assert any(report.stored_path in line and "not the recorded" in line for line in fails), (
            fails
        )
        for version in s3.client.list_object_versions(Bucket=s3.bucket, Prefix=key)["Versions"]:
            s3.client.delete_object(Bucket=s3.bucket, Key=key, VersionId=version["VersionId"])
        fails = _fails(archive)
        assert any(snap.warc_path in line and "missing from s3://" in line for line in fails), fails


def test_a_bucket_that_refuses_writes_records_nothing_and_the_capture_is_retried(
    web: SimulatedWeb,
    s3: S3,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    missing = S3(s3.endpoint, f"{s3.bucket}-not-yet", s3.client)
    settings = _settings(make_settings, web, **missing.settings())
    with Archive.open(settings, clock=clock) as archive:
        # A report is not added either: its original goes to the bucket before its row.
        with pytest.raises(StoreError, match=r"cannot write reports/.*NoSuchBucket"):
            _capture(archive, tmp_path)
        assert archive.status()["reports"] == []
    # Added while the bucket took writes (another bucket), then captured with it refusing.
    with Archive.open(_settings(make_settings, web, **s3.settings()), clock=clock) as archive:
        _capture(archive, tmp_path)
    with Archive.open(settings, clock=clock) as archive:
        (outcome,) = archive.capture()
        assert outcome.error is not None
        assert "cannot write warcs/" in outcome.error and "NoSuchBucket" in outcome.error
        assert SECRET not in outcome.error
        assert outcome.state_after == "pending"
        assert _snapshots(archive) == []
        # No WARC left behind that no row names.
        assert list((settings.storage.root / "warcs").rglob("*.warc.gz")) == []
        # The bucket takes writes again: the capture is done again once due.
        s3.client.create_bucket(Bucket=missing.bucket)
        assert archive.capture() == []  # not before its retry time
        clock.advance(hours=2)
        (again,) = archive.capture()
        assert again.error is None and again.http_status == 200
        (snap,) = _snapshots(archive)
        stored = s3.client.head_object(Bucket=missing.bucket, Key=f"archive/{snap.warc_path}")
        assert stored["ContentLength"] == snap.warc_size
        # (The report's original went to the other bucket, where it was added.)
        assert [line for line in _fails(archive) if "reports/" not in line] == []


def _b64(sha256_hex: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def _gunzip_all(data: bytes) -> bytes:
    import zlib

    out, rest = b"", data
    while rest:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += d.decompress(rest)
        rest = d.unused_data
    return out


def test_the_warc_download_is_streamed_from_the_bucket(
    web: SimulatedWeb,
    s3: S3,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:

    settings = _settings(make_settings, web, **s3.settings())
    with Archive.open(settings, clock=clock) as archive:
        _capture(archive, tmp_path)
        archive.capture()
        (snap,) = _snapshots(archive)
        token = _token(archive, clock, Role.LAWYER)
        url = f"/api/v1/snapshots/{snap.id}/warc"
        got = _web_get(archive, url, token)
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == snap.warc_sha256
        assert got.headers["x-archiver-sha256"] == snap.warc_sha256
        assert got.headers["content-length"] == str(snap.warc_size)
        key = f"archive/{snap.warc_path}"
        for version in s3.client.list_object_versions(Bucket=s3.bucket, Prefix=key)["Versions"]:
            s3.client.delete_object(Bucket=s3.bucket, Key=key, VersionId=version["VersionId"])
        assert _web_get(archive, url, token).status_code == 410


def test_a_recheck_compares_with_the_baseline_read_from_the_bucket(
    web: SimulatedWeb,
    s3: S3,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    settings = _settings(make_settings, web, **s3.settings(storage__object_lock_days="1"))
    with Archive.open(settings, clock=clock) as archive:
        _capture(archive, tmp_path)
        (captured,) = archive.capture()
        assert captured.error is None
        clock.advance(days=2)
        (report,) = archive.check(everything=True)
        (outcome,) = report.outcomes
        assert outcome.error is None, outcome
        # The page as captured: its text was read from the WARC in the bucket.
        assert outcome.similarity == 1.0, outcome


def test_an_export_reads_the_warc_from_the_bucket_and_keeps_a_copy_there(
    web: SimulatedWeb,
    s3: S3,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
    local_tsa: LocalTsa,
) -> None:
    settings = _settings(
        make_settings,
        web,
        integrity__tsa_urls=json.dumps([local_tsa.url]),
        **s3.settings(storage__object_lock_days="1"),
    )
    with Archive.open(settings, clock=clock) as archive:
        _capture(archive, tmp_path)
        (outcome,) = archive.capture()
        assert outcome.snapshot_id is not None
        package = archive.export(str(outcome.source_id), tmp_path / "evidence.zip")
        with zipfile.ZipFile(package) as zf:
            names = zf.namelist()
        assert any(name.endswith(".wacz") for name in names), names
        # The WARC came from the bucket: nothing of it on local disk, before or after.
        assert list((settings.storage.root / "warcs").rglob("*.warc.gz")) == []
        key = f"archive/exports/{outcome.snapshot_id}/evidence.zip"
        head = s3.client.head_object(Bucket=s3.bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ChecksumSHA256"] == _b64(hashlib.sha256(package.read_bytes()).hexdigest())


def test_readyz_says_when_the_bucket_cannot_be_reached(
    s3: S3, make_settings: Callable[..., Settings], clock: FixedClock
) -> None:

    with Archive.open(make_settings(**s3.settings()), clock=clock) as archive:
        answer = _web_get(archive, "/readyz")
        assert answer.status_code == 200 and answer.json()["object_store"] == "ok"
    gone = S3(s3.endpoint, f"{s3.bucket}-gone", s3.client)
    with Archive.open(make_settings(**gone.settings()), clock=clock) as archive:
        answer = _web_get(archive, "/readyz")
        assert answer.status_code == 503
        shown = answer.json()["object_store"]
        assert shown.startswith(f"failed: s3://{gone.bucket}/archive at http://127.0.0.1:")
        assert "404" in shown and SECRET not in answer.text


def test_a_store_that_keeps_no_checksum_gets_the_object_read_back(
    s3: S3, make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from archiver.storage.s3 import S3Store

    store = open_store(make_settings(**s3.settings()))
    assert isinstance(store, S3Store)
    real_stat = S3Store.stat

    def no_checksum(self: S3Store, key: str, doing: str = "read") -> ObjectInfo | None:
        info = real_stat(self, key, doing=doing)
        return None if info is None else dataclasses.replace(info, checksum=None)

    monkeypatch.setattr(S3Store, "stat", no_checksum)
    local = tmp_path / "one.warc.gz"
    local.write_bytes(b"evidence" * 1000)
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    assert store.put_file(local, "warcs/a.warc.gz", sha256=digest, size=8000).size == 8000
    # A store that changed the bytes on the way is caught by the read-back.
    real_open = S3Store.open

    @contextlib.contextmanager
    def garbled(self: S3Store, key: str) -> Iterator[BinaryIO]:
        with real_open(self, key):
            yield io.BytesIO(b"x" * 8000)

    monkeypatch.setattr(S3Store, "open", garbled)
    with pytest.raises(StoreError, match="read back is not the file written"):
        store.put_file(local, "warcs/b.warc.gz", sha256=digest, size=8000)


def test_a_snapshot_in_the_bucket_is_replayed_from_it(
    web: SimulatedWeb,
    s3: S3,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """The source page's replay builds its WACZ from the WARC in the bucket; with the
    object gone the page says it is missing, with the bucket unreachable it says that."""

    settings = _settings(make_settings, web, **s3.settings())
    with Archive.open(settings, clock=clock) as archive:
        _capture(archive, tmp_path)
        archive.capture()
        (snap,) = _snapshots(archive)
        assert not (settings.storage.root / snap.warc_path).exists()  # only in the bucket
        token = _token(archive, clock, Role.LAWYER)
        page = _web_get(archive, f"/sources/{snap.source_id}", token)
        assert page.status_code == 200
        assert "WARC file is missing" not in page.text
        wacz = _web_get(archive, f"/snapshots/{snap.id}.wacz", token)
        assert wacz.status_code == 200
        with zipfile.ZipFile(io.BytesIO(wacz.content)) as zf:
            (name,) = [n for n in zf.namelist() if n.startswith("archive/")]
            assert hashlib.sha256(zf.read(name)).hexdigest() == snap.warc_sha256

        unreachable = settings.model_copy(
            update={
                "storage": settings.storage.model_copy(
                    update={"s3_endpoint": "http://127.0.0.1:9", "warc_url": "s3://elsewhere/x"}
                )
            }
        )
        (settings.storage.root / "replay" / f"{snap.id}.wacz").unlink()
        page = _web_get(archive, f"/sources/{snap.source_id}", token, unreachable)
        assert page.status_code == 200
        assert "could not be read" in page.text and "WARC file is missing" not in page.text
        key = f"archive/{snap.warc_path}"
        for version in s3.client.list_object_versions(Bucket=s3.bucket, Prefix=key)["Versions"]:
            s3.client.delete_object(Bucket=s3.bucket, Key=key, VersionId=version["VersionId"])
        page = _web_get(archive, f"/sources/{snap.source_id}", token)
        assert "WARC file is missing" in page.text


def test_health_says_when_captures_fail_for_our_own_reasons(
    web: SimulatedWeb,
    s3: S3,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """Finding: a worker whose disk was full, or whose bucket refused writes, failed
    every capture while /healthz said "ok" and /metrics counted nothing: the reason
    was only in that worker's log and on each source."""

    def ask(archive: Archive) -> tuple[dict[str, Any], str]:
        health = _web_get(archive, "/healthz").json()
        return health, _web_get(archive, "/metrics", _token(archive, clock, Role.ADMIN)).text

    with Archive.open(_settings(make_settings, web, **s3.settings()), clock=clock) as archive:
        _capture(archive, tmp_path)  # the report added (its original in the bucket)
    missing = S3(s3.endpoint, f"{s3.bucket}-refusing", s3.client)
    with Archive.open(_settings(make_settings, web, **missing.settings()), clock=clock) as archive:
        health, metrics = ask(archive)
        assert health["status"] == "ok"
        assert health["captures"] == {"own_failures_last_hour": 0, "last_own_failure": None}
        (outcome,) = archive.capture()
        assert outcome.error is not None
        health, metrics = ask(archive)
        assert health["status"] == "degraded"
        captures = health["captures"]
        assert isinstance(captures, dict) and captures["own_failures_last_hour"] == 1
        last = captures["last_own_failure"]
        assert last["source_id"] == outcome.source_id
        assert "cannot write warcs/" in last["reason"] and "NoSuchBucket" in last["reason"]
        assert SECRET not in json.dumps(health)
        assert "archiver_capture_own_failures_total 1.0" in metrics
        clock.advance(hours=2)  # an hour later: past, still counted
        health, metrics = ask(archive)
        assert health["status"] == "ok" and health["captures"]["own_failures_last_hour"] == 0
        assert "archiver_capture_own_failures_total 1.0" in metrics


def test_our_own_failures_do_not_grow_the_sources_back_off(
    web: SimulatedWeb,
    s3: S3,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """Finding: a capture that failed for our own reasons (a full disk, a refusing
    bucket) backed the source off like a flaky site: 10 minutes, doubling, up to a day,
    so after a weekend's outage the sources waited up to a day once it was mended."""
    with Archive.open(_settings(make_settings, web, **s3.settings()), clock=clock) as archive:
        _capture(archive, tmp_path)
    missing = S3(s3.endpoint, f"{s3.bucket}-refusing-long", s3.client)
    with Archive.open(_settings(make_settings, web, **missing.settings()), clock=clock) as archive:
        delays = []
        for _ in range(4):
            (outcome,) = archive.capture()
            assert outcome.error is not None
            with archive.db.session() as session:
                (due,) = session.scalars(select(Source.next_capture_at))
            delays.append(due - clock())
            clock.advance(seconds=(due - clock()).total_seconds())
        assert delays == [timedelta(minutes=10)] * 4
