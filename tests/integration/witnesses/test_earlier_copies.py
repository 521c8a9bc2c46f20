"""Issue 18: sources already gone get the copy a public web archive holds, kept as a
third-party copy. The archive is real: pywb serving corpus pages under the host
web.archive.org, through the simulated web (tests/integration/witnesses/archive.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from archiver.app import Archive
from archiver.capture.warc import verify_warc
from archiver.config import Settings
from archiver.models import CustodyEvent, Snapshot, SnapshotSeal, ThirdPartyCopy, WitnessLookup
from archiver.witnesses.service import WitnessesDisabled
from tests.conftest import FixedClock
from tests.integration.witnesses.archive import TOOLS, start_wayback
from tests.integration.witnesses.conftest import GONE, NEAR, NEVER_ARCHIVED, PAGE
from tests.simweb import SimulatedWeb, status
from tests.support.verify_tools import warcio_check


def _source_id(archive: Archive, url: str) -> int:
    [source_id] = archive.find_sources([url])
    return source_id


def test_a_source_gone_at_capture_gets_the_copy_nearest_the_report_date(
    archive: Archive, web: SimulatedWeb
) -> None:
    gone = _source_id(archive, GONE)
    assert gone in archive.witnesses.due()
    [outcome] = archive.witnesses.look_up([gone])
    assert outcome.outcome == "found", outcome.asked
    assert outcome.archive == "web.archive.org"
    assert outcome.memento_datetime == NEAR
    # The report names its period ("... to October 31, 2022"): the copy nearest it.
    assert outcome.target_basis == "report_text"
    assert outcome.message == "copy held by web.archive.org, captured 2022-10-05 14:02 UTC"
    # The default aggregator is not on this (simulated) network: it says so, and the
    # Wayback Machine's own TimeMap still answers.
    hosts = [a["archive"] for a in outcome.asked]
    assert hosts[0] == "timetravel.mementoweb.org" and "failed" in outcome.asked[0]["result"]
    assert {"archive": "web.archive.org", "url": f"https://web.archive.org/web/timemap/link/{GONE}",
            "result": "3 copies"} in outcome.asked  # fmt: skip
    assert web.hits(f"https://web.archive.org/web/20221005140211id_/{GONE}") == 1

    with archive.db.session() as session:
        snapshot = session.get(Snapshot, outcome.snapshot_id)
        copy = session.get(ThirdPartyCopy, outcome.snapshot_id)
        seal = session.get(SnapshotSeal, outcome.snapshot_id)
        custody = session.scalars(
            select(CustodyEvent).where(CustodyEvent.subject_id == outcome.snapshot_id)
        ).one()
        assert snapshot is not None and copy is not None and seal is not None
        # Never our own capture: no status of ours, the archive's status apart.
        assert snapshot.http_status is None and copy.original_status == 200
        assert copy.memento_url == f"https://web.archive.org/web/20221005140211mp_/{GONE}"
        assert copy.raw_url == f"https://web.archive.org/web/20221005140211id_/{GONE}"
        warc = archive.settings.storage.root / snapshot.warc_path
        manifest = json.loads(seal.manifest)
        assert custody.action == "capture" and custody.details["kind"] == "third_party"
    assert manifest["kind"] == "third_party"
    assert manifest["third_party"]["archive"] == "web.archive.org"
    assert manifest["third_party"]["memento_datetime"] == "2022-10-05T14:02:11.000000Z"
    assert manifest["source"]["http_status"] is None
    # The copy's bytes as the archive holds them (crawl 2), digested as received.
    assert snapshot.payload_sha256 is not None
    assert verify_warc(warc, expected_sha256=snapshot.warc_sha256).ok
    checked = warcio_check(warc)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_stored_copy_replays_in_pywb(archive: Archive, tmp_path: Path) -> None:
    [outcome] = archive.witnesses.look_up([_source_id(archive, GONE)])
    with archive.db.session() as session:
        snapshot = session.get(Snapshot, outcome.snapshot_id)
        assert snapshot is not None
        warc = archive.settings.storage.root / snapshot.warc_path
    replay_root = tmp_path / "replay"
    replay_root.mkdir()
    subprocess.run([str(TOOLS / "wb-manager"), "init", "evidence"], cwd=replay_root, check=True,
                   capture_output=True)  # fmt: skip
    added = subprocess.run([str(TOOLS / "wb-manager"), "add", "evidence", str(warc)],
                           cwd=replay_root, capture_output=True, text=True)  # fmt: skip
    assert added.returncode == 0, added.stderr
    index = (replay_root / "collections" / "evidence" / "indexes" / "index.cdxj").read_text()
    # Indexed at the URL we fetched (the archive's), never at the source's own URL.
    assert "web.archive.org/web/20221005140211id_/" in index
    assert not any(
        line.startswith("org,azattyq,rus)/a/32063459.html ") for line in index.splitlines()
    )
    server, base = start_wayback(replay_root, "evidence")
    try:
        stamp = snapshot.started_at.strftime("%Y%m%d%H%M%S")
        target = f"https://web.archive.org/web/20221005140211id_/{GONE}"
        response = httpx.get(f"{base}/evidence/{stamp}id_/{target}", timeout=30)
        assert response.status_code == 200
        assert response.content == PAGE + b"<!-- crawl 2 -->"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_status_json_calls_it_a_third_party_copy(archive: Archive) -> None:
    gone = _source_id(archive, GONE)
    [outcome] = archive.witnesses.look_up([gone])
    status_doc = archive.status()
    source = next(s for s in status_doc["sources"] if s["id"] == gone)
    assert source["preserved"] is False
    assert source["preserved_by_third_party"] is True
    [copy] = [s for s in source["snapshots"] if s["kind"] == "third_party"]
    assert copy["id"] == outcome.snapshot_id
    assert copy["archive"] == "web.archive.org"
    assert copy["memento_url"] == f"https://web.archive.org/web/20221005140211mp_/{GONE}"
    assert copy["memento_datetime"] == "2022-10-05T14:02:11Z"
    assert copy["retrieved_at"] == "2026-01-02T03:04:05Z"
    assert copy["preserved"] is False
    assert all(s["kind"] == "own" for s in source["snapshots"] if s["id"] != copy["id"])
    assert source["baseline_snapshot"] is None
    assert status_doc["summary"]["preserved"] == 0
    assert status_doc["summary"]["preserved_by_third_party"] == 1
    assert source["witness_lookup"]["outcome"] == "found"


def test_no_copy_anywhere_says_which_archives_were_asked(archive: Archive) -> None:
    never = _source_id(archive, NEVER_ARCHIVED)
    [outcome] = archive.witnesses.look_up([never])
    assert outcome.outcome == "none"
    assert outcome.snapshot_id is None
    assert outcome.message.startswith("no earlier copy found (archives asked: ")
    assert "timetravel.mementoweb.org: failed" in outcome.message
    assert "web.archive.org: no copy" in outcome.message
    source = next(s for s in archive.status()["sources"] if s["id"] == never)
    assert source["witness_lookup"]["message"] == outcome.message
    assert source["preserved_by_third_party"] is False
    # Asked once; not again this week.
    assert never not in archive.witnesses.due()


def test_an_archive_answering_503_is_no_copy_and_says_so(
    archive: Archive, web: SimulatedWeb
) -> None:
    web.override_host("web.archive.org", status(503))
    [outcome] = archive.witnesses.look_up([_source_id(archive, GONE)])
    assert outcome.outcome == "failed"
    assert "web.archive.org: answered HTTP 503" in outcome.message
    assert outcome.message.startswith("no earlier copy found (archives asked: ")
    with archive.db.session() as session:
        assert session.scalars(select(ThirdPartyCopy)).all() == []
        [lookup] = session.scalars(select(WitnessLookup)).all()
        assert lookup.outcome == "failed"


def test_cdx_fallback_when_no_timemap_lists_a_copy(
    archive: Archive, web: SimulatedWeb, make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    settings = archive.settings.model_copy(
        update={"witnesses": archive.settings.witnesses.model_copy(update={"timemaps": ()})}
    )
    with Archive.open(settings, clock=clock) as other:
        [outcome] = other.witnesses.look_up([_source_id(other, GONE)])
    assert outcome.outcome == "found", outcome.message
    assert outcome.memento_datetime == NEAR
    assert outcome.memento_url == f"https://web.archive.org/web/20221005140211/{GONE}"
    assert outcome.asked[0]["archive"] == "web.archive.org"
    assert outcome.asked[0]["result"] == "3 copies"


def test_no_archive_is_contacted_when_witnesses_are_disabled(
    archive: Archive, web: SimulatedWeb, clock: FixedClock
) -> None:
    settings = archive.settings.model_copy(
        update={"witnesses": archive.settings.witnesses.model_copy(update={"enabled": False})}
    )
    web.clear_log()
    with Archive.open(settings, clock=clock) as other, pytest.raises(WitnessesDisabled):
        other.witnesses.look_up([_source_id(other, GONE)])
    assert not [r for r in web.requests if "archive.org" in r.url or "mementoweb" in r.url]


def test_the_daemon_pass_looks_up_unpreserved_sources_once(
    archive: Archive, web: SimulatedWeb, clock: FixedClock
) -> None:
    import asyncio

    outcomes = asyncio.run(archive.witnesses.look_up_due(10))
    assert {o.url: o.outcome for o in outcomes} == {GONE: "found", NEVER_ARCHIVED: "none"}
    assert asyncio.run(archive.witnesses.look_up_due(10)) == []
    # A week later, the one without a copy is asked again; the copy is not fetched twice.
    clock.advance(days=8)
    [again] = asyncio.run(archive.witnesses.look_up_due(10))
    assert again.url == NEVER_ARCHIVED
    settings = archive.settings.model_copy(
        update={
            "witnesses": archive.settings.witnesses.model_copy(update={"lookup_unpreserved": False})
        }
    )
    clock.advance(days=8)
    with Archive.open(settings, clock=clock) as other:
        assert asyncio.run(other.witnesses.look_up_due(10)) == []


def test_a_page_captured_as_removed_is_looked_up_too(archive: Archive, web: SimulatedWeb) -> None:
    """A platform's "content isn't available" page answers 200: our snapshot preserves
    only the notice, so an earlier copy is wanted all the same."""
    from archiver.models import Observation

    [gone] = archive.find_sources([GONE])
    with archive.db.session() as session:
        row = session.scalars(select(Observation).where(Observation.source_id == gone)).one()
        # As a capture of a removed video records it (a 2xx answer, "removed" implied).
        session.add(
            Snapshot(
                id="00000000-0000-4000-8000-000000000001", source_id=gone,
                started_at=row.observed_at, finished_at=row.observed_at, methods=["http"],
                warc_path="warcs/x.warc.gz", warc_sha256="0" * 64, warc_size=1,
                http_status=200, final_url=GONE, redirect_chain=[], payload_sha256=None,
                payload_size=None, content_type="text/html", title=None, failure_kind=None,
                failure_message=None, tls_verified=None, truncated=False, artefacts=[],
                records=1, incomplete=[],
            )
        )  # fmt: skip
        row.implied_state = "removed"
    [never] = archive.find_sources([NEVER_ARCHIVED])
    assert archive.witnesses.due() == [gone, never]
    with archive.db.session() as session:
        session.get(Observation, row.id).implied_state = "live"  # type: ignore[union-attr]
    assert archive.witnesses.due() == [never]


def test_an_archive_without_raw_mode_is_fetched_as_listed(
    archive: Archive, web: SimulatedWeb
) -> None:
    """The aggregator lists archive.today's copy, nearer the report's date than the
    Wayback Machine's; archive.today has no id_ mode: its copy is kept as it serves it."""
    listed = f"https://archive.ph/20221020101010/{GONE}"
    web.page(
        f"https://timetravel.mementoweb.org/timemap/link/{GONE}",
        f'<{GONE}>; rel="original",\n'
        f'<{listed}>; rel="memento"; datetime="Thu, 20 Oct 2022 10:10:10 GMT",\n'
        f'<https://web.archive.org/web/20221005140211/{GONE}>; rel="memento"; '
        'datetime="Wed, 05 Oct 2022 14:02:11 GMT"\n',
        content_type="application/link-format",
    )
    web.page(listed, "<html>archive.today's copy</html>")
    [outcome] = archive.witnesses.look_up([_source_id(archive, GONE)])
    assert outcome.outcome == "found", outcome.asked
    assert (outcome.archive, outcome.memento_url) == ("archive.ph", listed)
    assert outcome.memento_datetime == datetime(2022, 10, 20, 10, 10, 10, tzinfo=UTC)
    assert {"archive": "archive.ph", "url": f"https://archive.ph/20221020101010id_/{GONE}",
            "result": "answered HTTP 404"} in outcome.asked  # fmt: skip
    with archive.db.session() as session:
        copy = session.get(ThirdPartyCopy, outcome.snapshot_id)
        assert copy is not None and copy.raw_url == listed


def test_the_private_network_guard_applies_to_archives(
    archive: Archive, web: SimulatedWeb, clock: FixedClock
) -> None:
    """An archive configured on a private address (or a TimeMap pointing there) is
    refused like any other host: the guard sits in the fetcher every request takes."""
    settings = archive.settings.model_copy(
        update={
            "witnesses": archive.settings.witnesses.model_copy(
                update={"timemaps": ("http://169.254.169.254/timemap/link/",), "cdx_urls": ()}
            )
        }
    )
    web.clear_log()
    with Archive.open(settings, clock=clock) as other:
        [outcome] = other.witnesses.look_up([_source_id(other, GONE)])
    assert outcome.outcome == "failed"
    [asked] = outcome.asked
    assert asked["archive"] == "169.254.169.254"
    assert asked["result"].startswith("failed: ")
    assert not [r for r in web.requests if "169.254.169.254" in r.url]
