"""Stamping that catches up: ``archiver stamp`` by hand asks for every pending stamp now
(before: "0 obtained, 0 still pending" with 3 pending, waiting out the back-off);
stamps pending against a TSA no longer configured are asked of the current ones;
``export`` warns when its package has no trusted timestamp; ``status`` (table, JSON,
CSV) and the pages show what is pending."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from archiver.app import Archive
from archiver.cli import main
from archiver.config import Settings
from archiver.integrity.pending import package_stamped
from archiver.integrity.verify_store import verify_store
from archiver.models import TimestampRecord
from archiver.web import create_app
from archiver.web.tokens import Role, create_token
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.integrity.package_fixtures import ARTICLE, integrity_settings
from tests.support.httpserver import Response, serve

# Nothing listens there: connections are refused at once.
GONE_TSA = "http://127.0.0.1:9/tsr"


@dataclass
class Offline:
    archive: Archive
    settings: Settings
    tsa: LocalTsa
    source_ids: list[int]


@pytest.fixture
def offline(tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa) -> Iterator[Offline]:
    """Two sources captured while the TSA answered HTTP 500: two manifest stamps and
    the first custody head's stamp pending, backed off."""
    page = Response(200, ARTICLE, {"Content-Type": "text/html; charset=utf-8"})
    local_tsa.mode = "http500"
    with serve({"/a.html": page, "/b.html": page}) as server:
        settings = integrity_settings(
            tmp_path / "storage", f"sqlite:///{tmp_path / 'a.db'}", [local_tsa.url]
        )
        with Archive.open(settings, clock=clock) as archive:
            report = (
                f"One[1]. Two[2].\n\n[1] {server.url('/a.html')}\n[2] {server.url('/b.html')}\n"
            )
            archive.add_bytes(report.encode(), origin="digest.txt")
            outcomes = archive.capture(actor="cli:tester")
            assert [o.http_status for o in outcomes] == [200, 200]
            summary = archive.stamp_pending()
            assert (summary.granted, summary.pending) == (0, 3)
            local_tsa.mode = "ok"
            yield Offline(archive, settings, local_tsa, [o.source_id for o in outcomes])


def _env(settings: Settings) -> dict[str, str]:
    return {
        "ARCHIVER_STORAGE__ROOT": str(settings.storage.root),
        "ARCHIVER_STORAGE__DATABASE_URL": settings.storage.database_url,
        "ARCHIVER_INTEGRITY__TSA_URLS": json.dumps(list(settings.integrity.tsa_urls)),
    }


def _rows(archive: Archive) -> list[tuple[str, str, str]]:
    with archive.db.session() as session:
        return [
            (r.subject_type, r.tsa_url, r.status)
            for r in session.scalars(select(TimestampRecord).order_by(TimestampRecord.id))
        ]


def test_stamp_by_hand_asks_every_pending_stamp_now(offline: Offline) -> None:
    archive = offline.archive
    # The automatic pass waits out the back-off...
    assert archive.stamp_pending().granted == 0
    # ...the one run by hand does not, even with the next attempt hours away.
    with archive.db.session() as session:
        session.execute(
            update(TimestampRecord).values(next_attempt_at=datetime(2099, 1, 1, tzinfo=UTC))
        )
    result = CliRunner(env=_env(offline.settings)).invoke(main, ["stamp"])
    assert result.exit_code == 0, result.output
    assert "timestamps: 3 obtained, 0 still pending" in result.output
    assert {status for *_, status in _rows(archive)} == {"granted"}


def test_stamp_by_hand_says_what_is_still_pending(offline: Offline) -> None:
    offline.tsa.mode = "http500"
    result = CliRunner(env=_env(offline.settings)).invoke(main, ["stamp"])
    assert result.exit_code == 0, result.output
    assert "timestamps: 0 obtained, 3 still pending" in result.output
    assert "HTTP 500" in result.output


def test_stamps_of_a_tsa_no_longer_configured_are_asked_of_the_current_ones(
    tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa
) -> None:
    page = Response(200, ARTICLE, {"Content-Type": "text/html; charset=utf-8"})
    database = f"sqlite:///{tmp_path / 'a.db'}"
    with serve({"/a.html": page}) as server:
        before = integrity_settings(tmp_path / "storage", database, [GONE_TSA])
        with Archive.open(before, clock=clock) as archive:
            archive.add_bytes(f"One[1].\n\n[1] {server.url('/a.html')}\n".encode(), origin="t")
            [outcome] = archive.capture(actor="t")
            assert archive.stamp_pending().granted == 0
    # The operator replaces the authority (integrity.tsa_urls).
    after = integrity_settings(tmp_path / "storage", database, [local_tsa.url])
    with Archive.open(after, clock=clock) as archive:
        summary = archive.stamp_pending()
        assert (summary.granted, summary.pending) == (2, 0), summary.errors
        assert _rows(archive) == [
            ("snapshot", GONE_TSA, "retired"),
            ("custody_head", GONE_TSA, "retired"),
            ("snapshot", local_tsa.url, "granted"),
            ("custody_head", local_tsa.url, "granted"),
        ]
        with archive.db.session() as session:
            reasons = session.scalars(
                select(TimestampRecord.last_error).where(TimestampRecord.status == "retired")
            ).all()
        assert all("is no longer configured (integrity.tsa_urls)" in r for r in reasons)
        found = verify_store(archive)
        assert not found.failed
        assert not any(f.item == "timestamps" for f in found)  # nothing left pending
        package = archive.export(str(outcome.source_id), tmp_path / "p.zip", actor="t")
        assert package_stamped(package)
        with zipfile.ZipFile(package) as zf:
            listing = json.loads(zf.read("timestamps/timestamps.json"))
        assert {s["tsa_url"] for s in listing} == {local_tsa.url}


def test_export_warns_when_the_package_has_no_trusted_timestamp(
    offline: Offline, tmp_path: Path
) -> None:
    offline.tsa.mode = "http500"
    runner = CliRunner(env=_env(offline.settings))
    out = tmp_path / "p.zip"
    result = runner.invoke(main, ["export", str(offline.source_ids[0]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning: p.zip has no trusted timestamp" in result.stdout
    offline.tsa.mode = "ok"
    again = tmp_path / "q.zip"
    result = runner.invoke(main, ["export", str(offline.source_ids[0]), "--out", str(again)])
    assert result.exit_code == 0, result.output
    assert package_stamped(again) and "warning" not in result.output


async def test_status_and_pages_show_pending_stamps(offline: Offline) -> None:
    archive = offline.archive
    runner = CliRunner(env=_env(offline.settings))
    document = json.loads(runner.invoke(main, ["status", "--format", "json"]).output)
    stamps = document["summary"]["timestamps"]
    assert (stamps["granted"], stamps["pending"], stamps["unstamped_snapshots"]) == (0, 2, 2)
    assert stamps["pending_since"] == "2026-01-02T03:04:05Z"
    for source in document["sources"]:
        assert [s["timestamps"] for s in source["snapshots"]] == [{"granted": 0, "pending": 1}]
    table = runner.invoke(main, ["status"]).output
    assert "timestamps: 0 obtained, 2 pending since 2026-01-02T03:04:05Z" in table
    rows = list(
        csv.DictReader(io.StringIO(runner.invoke(main, ["status", "--format", "csv"]).output))
    )
    assert [r["timestamps_pending"] for r in rows] == ["1", "1"]
    _, token = create_token(archive.db, name="v", role=Role.VIEWER, clock=archive.clock)
    app = create_app(archive, archive.settings)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        index = (await client.get("/", headers=headers)).text
        assert "3 trusted timestamps (RFC 3161) pending since 2026-01-02 03:04:05 UTC" in index
        assert "HTTP 500" in index
        page = (await client.get(f"/sources/{offline.source_ids[0]}", headers=headers)).text
        assert "no trusted timestamp yet: 1 stamp pending" in page
    archive.integrity.stamp_all()
    document = json.loads(runner.invoke(main, ["status", "--format", "json"]).output)
    assert document["summary"]["timestamps"]["pending"] == 0
    assert "timestamps: 2 obtained, 0 pending" in runner.invoke(main, ["status"]).output
