"""What the status document, the CSV, the table and the pages say about a source is what
happened to it: failed captures show as failed with their reason, an accusation waiting
for confirmation as "suspected", the baseline stays the first preserved snapshot, a
snapshot lacking a part says so, and failed captures are retried with back-off."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from archiver.app import Archive
from archiver.config import Settings
from archiver.models import Observation, Snapshot, Source
from archiver.store.status import status_rows, status_table
from archiver.web.app import create_app
from archiver.web.tokens import Role, create_token
from tests.conftest import FixedClock
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401

pytestmark = pytest.mark.slow

ARTICLE = "https://rus.azattyq.org/a/32064219.html"
GONE = "https://kaztag.kz/ru/news/deleted-article"
NO_HOST = "https://vanished-outlet.kz/a/1"
REPORT = f"""Digest

A trial began[1]. The agency's story was deleted[2]. The outlet is gone[3].

[1]{ARTICLE}
[2]{GONE}
[3]{NO_HOST}
"""


@pytest.fixture
def archive(
    simweb: SimulatedWeb,  # noqa: F811
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> Iterator[Archive]:
    simweb.page(ARTICLE, "<title>Trial</title><article><p>The trial began.</p></article>")
    simweb.host("kaztag.kz")  # the host answers; the article is 404
    simweb.dns_failure("vanished-outlet.kz")
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        check__confirm_after="3600",
    )
    http_only = settings.capture.model_copy(update={"modes": {"default": ("http",)}})
    settings = settings.model_copy(update={"capture": http_only})
    report = tmp_path / "digest.txt"
    report.write_text(REPORT, encoding="utf-8")
    with Archive.open(settings, clock=clock) as opened:
        opened.add(str(report))
        opened.capture()
        yield opened


def _sources(archive: Archive) -> dict[str, dict]:  # type: ignore[type-arg]
    return {s["url"]: s for s in archive.status()["sources"]}


def test_failed_captures_are_failed_with_their_reason(archive: Archive) -> None:
    status = archive.status()
    sources = {s["url"]: s for s in status["sources"]}
    gone, no_host, article = sources[GONE], sources[NO_HOST], sources[ARTICLE]

    # Not "pending, no snapshot yet": failed, why, and when it is tried again.
    assert no_host["state"] == "pending" and not no_host["preserved"]
    assert no_host["capture_failure"]["reason"] == "the host name does not resolve"
    assert no_host["capture_failure"]["failure"] == "dns"
    assert gone["capture_failure"]["http_status"] == 404
    assert no_host["next_capture_at"] is not None and no_host["capture_attempts"] == 1
    # One capture points to dead; a second observation an hour later confirms it.
    for source in (gone, no_host):
        assert source["suspected"]["state"] == "dead"
        assert source["suspected"]["confirm_at"] is not None
    assert article["preserved"] and article["capture_failure"] is None
    assert article["suspected"] is None
    assert article["baseline_snapshot"] == article["snapshots"][0]["id"]
    assert article["snapshots"][0]["incomplete"] == []
    assert status["summary"]["never_preserved"] == 2
    assert status["summary"]["suspected"] == 2
    assert status["summary"]["not_captured_yet"] == 0

    # The CSV and the table say the same.
    rows = {r["url_as_cited"]: r for r in status_rows(status)}
    assert rows[NO_HOST]["suspected_state"] == "dead"
    assert rows[NO_HOST]["capture_failed"] == "yes"
    assert "the host name does not resolve" in rows[NO_HOST]["reason"]
    assert rows[ARTICLE]["capture_failed"] == "no" and rows[ARTICLE]["reason"] == ""
    assert rows[ARTICLE]["baseline_snapshot"] == article["baseline_snapshot"]
    table = status_table(status)
    assert "not preserved: capture failed (the host name does not resolve)" in table
    assert "suspected dead" in table


async def test_pages_show_failed_and_suspected(archive: Archive, clock: FixedClock) -> None:
    _, token = create_token(archive.db, name="lawyer", role=Role.LAWYER, clock=clock)
    app = create_app(archive, archive.settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get("/sources", headers={"Authorization": f"Bearer {token}"})
        assert page.status_code == 200, page.text
        html = page.text
    assert html.count("not preserved: capture failed") == 2
    assert "the host name does not resolve" in html
    assert html.count("suspected dead") == 2
    assert "baseline WARC" in html


def test_failed_captures_are_retried_with_back_off(
    archive: Archive,
    clock: FixedClock,
    simweb: SimulatedWeb,  # noqa: F811
) -> None:
    runner = archive.capture_runner()
    assert runner.due_sources() == []  # waiting for the retry time
    clock.advance(minutes=11)
    due = {s.url for s in runner.due_sources()}
    assert due == {GONE, NO_HOST}
    simweb.page(GONE, "<title>Back</title><p>The story is back.</p>")
    archive.capture()
    sources = _sources(archive)
    assert sources[GONE]["preserved"] and sources[GONE]["capture_failure"] is None
    assert sources[NO_HOST]["capture_attempts"] == 2
    # Back-off: 10 minutes after the first failure, 20 after the second.
    clock.advance(minutes=11)
    assert runner.due_sources() == []


def test_baseline_stays_the_first_preserved_snapshot(
    archive: Archive,
    simweb: SimulatedWeb,  # noqa: F811
) -> None:
    first = _sources(archive)[ARTICLE]["baseline_snapshot"]
    with archive.db.session() as session:
        source_id = session.scalar(select(Source.id).where(Source.url == ARTICLE))
        session.execute(update(Source).where(Source.id == source_id).values(state="altered"))
        session.commit()
    simweb.page(ARTICLE, "<title>Trial</title><article><p>Edited.</p></article>")
    runner = archive.capture_runner()
    asyncio.run(runner.run(runner.due_sources(source_ids=[source_id])))
    source = _sources(archive)[ARTICLE]
    assert len(source["snapshots"]) == 2
    assert source["baseline_snapshot"] == first
    assert source["latest_snapshot"] == source["snapshots"][1]["id"] != first
    # A re-capture's 2xx does not take "altered" back: only the re-check compares texts.
    assert source["state"] == "altered"
    with archive.db.session() as session:
        last = session.scalars(
            select(Observation)
            .where(Observation.source_id == source_id)
            .order_by(Observation.id.desc())
        ).first()
    assert last is not None and last.resulting_state == "altered" and last.via == "capture"


def test_incomplete_snapshot_says_what_is_missing_and_is_captured_again(
    archive: Archive, clock: FixedClock
) -> None:
    with archive.db.session() as session:
        snapshot = session.scalars(
            select(Snapshot).join(Snapshot.source).where(Source.url == ARTICLE)
        ).one()
        snapshot_id = snapshot.id
    # The snapshot as a failed video download leaves it (recorded at capture time).
    missing = [{"artefact": "video", "reason": "HTTP Error 403: Forbidden"}]
    with archive.db.session() as session:
        session.execute(
            update(Snapshot).where(Snapshot.id == snapshot_id).values(incomplete=missing)
        )
        session.commit()
    source = _sources(archive)[ARTICLE]
    assert source["snapshots"][0]["incomplete"] == missing
    rows = {r["url_as_cited"]: r for r in status_rows(archive.status())}
    assert rows[ARTICLE]["incomplete"] == "video: HTTP Error 403: Forbidden"


ECHO = "https://www.facebook.com/groups/1/posts/2/"


def test_browser_snapshot_without_its_artefacts_says_why_and_is_retried(
    simweb: SimulatedWeb,  # noqa: F811
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """A page that displays a value of the operator's session: the snapshot holds the
    page but no screenshot or PDF (withheld). It is preserved, says which parts are
    missing and why, and the source is captured again later for them (a new snapshot;
    the first one untouched)."""
    token = "47%3A" + "x" * 30
    simweb.page(ECHO, f"<title>Post</title><p>Your token is {token}</p>")
    session = tmp_path / "cookies.txt"
    session.write_text(f"#HttpOnly_.facebook.com\tTRUE\t/\tTRUE\t0\txs\t{token}\n", "utf-8")
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        capture__page_budget="15",
        platforms__facebook_session=str(session),
    )
    report = tmp_path / "r.txt"
    report.write_text(f"A post[1].\n\n[1]{ECHO}\n", encoding="utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        archive.capture()
        (source,) = archive.status()["sources"]
        snapshot = source["snapshots"][0]
        assert source["preserved"]
        missing = {m["artefact"]: m["reason"] for m in snapshot["incomplete"]}
        assert set(missing) == {"screenshot", "pdf"}, snapshot
        assert all("withheld" in reason for reason in missing.values())
        assert source["next_capture_at"] is not None
        clock.advance(minutes=11)
        assert [s.url for s in archive.capture_runner().due_sources()] == [source["url"]]
        (row,) = status_rows(archive.status())
        assert "screenshot: screenshot and PDF withheld" in row["incomplete"]


def test_the_url_is_fetched_as_cited_not_as_normalized(
    simweb: SimulatedWeb,  # noqa: F811
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """Finding: m.facebook.com/groups/117507531664134/ was fetched as
    www.facebook.com/groups/117507531664134 (normalized, slash dropped). The cited URL
    is the evidence: it is what is requested; normalization only groups citations."""
    cited = "https://m.facebook.com/groups/117507531664134/"
    simweb.page(cited, "<title>Group</title><p>posts</p>")
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
    )
    http_only = settings.capture.model_copy(update={"modes": {"default": ("http",)}})
    settings = settings.model_copy(update={"capture": http_only})
    report = tmp_path / "r.txt"
    report.write_text(f"A group[1].\n\n[1]{cited}\n", encoding="utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        (outcome,) = archive.capture()
        (source,) = archive.status()["sources"]
    assert source["url"] != cited  # the source's identity is the normalized URL
    assert outcome.preserved
    assert [url for _, url, _ in simweb.requests if "facebook" in url] == [cited]
