"""Issue 18, point 3: Save Page Now asked after our own capture, against a local server
speaking its documented API, rate limits included (tests/integration/witnesses/spn_server.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.app import Archive
from archiver.config import Settings
from archiver.errors import ConfigError
from archiver.models import LiveWitness
from archiver.witnesses.spn import PassSummary
from tests.conftest import FixedClock
from tests.integration.witnesses.spn_server import SavePageNowServer, rate_limited, spn_error
from tests.simweb import SimulatedWeb

LIVE = "https://www.zakon.kz/live-article.html"
PAGE = (
    "<title>Live</title><article><p>On 4 October 2022 in Almaty, police detained the "
    "activist at her home; three officers took her to the district station, where she "
    "was held for eleven hours without a lawyer, her family said.</p></article>"
)
ACCESS, SECRET = "access-key-1", "secret-key-1"


@pytest.fixture
def spn(simweb: SimulatedWeb) -> SavePageNowServer:
    server = SavePageNowServer(ACCESS, SECRET)
    simweb.page(LIVE, PAGE)
    simweb.override_host("web.archive.org", server)
    return server


def _archive(
    simweb: SimulatedWeb,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
    **extra: str,
) -> Archive:
    overrides = {
        "network__proxy": simweb.proxy_url,
        "capture__per_host_interval": "0",
        "capture__extra_ca_file": str(simweb.ca_pem_path),
        "capture__modes": '{default = ["http"]}',
        "integrity__tsa_urls": "[]",
        "witnesses__save_page_now": "true",
        "witnesses__save_page_now_access_key": ACCESS,
        "witnesses__save_page_now_secret_key": SECRET,
        **extra,
    }
    archive = Archive.open(make_settings(**overrides), clock=clock)
    report = tmp_path / "report.md"
    report.write_text(f"A detention [^1].\n\n[^1]: {LIVE}\n", encoding="utf-8")
    archive.add(str(report))
    [outcome] = archive.capture()
    assert outcome.preserved
    return archive


@pytest.fixture
def archive(
    simweb: SimulatedWeb,
    spn: SavePageNowServer,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> Iterator[Archive]:
    with _archive(simweb, make_settings, clock, tmp_path) as opened:
        yield opened


def _pass(archive: Archive) -> PassSummary:
    return asyncio.run(archive.save_page_now.run_due())


def _row(archive: Archive) -> LiveWitness:
    with archive.db.session() as session:
        row = session.scalars(select(LiveWitness)).one()
        session.expunge(row)
        return row


def test_our_capture_is_witnessed_by_save_page_now(
    archive: Archive, spn: SavePageNowServer, clock: FixedClock
) -> None:
    assert _pass(archive).asked == 1
    assert spn.submitted == [LIVE]
    assert _row(archive).status == "running"
    # Not polled before its time: no waiting inside a pass, and no hurry.
    assert _pass(archive).asked == 0
    clock.advance(seconds=30)
    _pass(archive)  # pending
    clock.advance(seconds=30)
    assert _pass(archive).done == 1
    row = _row(archive)
    assert row.status == "done"
    assert row.memento_url == f"https://web.archive.org/web/20260102030435/{LIVE}"
    assert row.memento_datetime == datetime(2026, 1, 2, 3, 4, 35, tzinfo=UTC)
    assert len(spn.polls) == 2
    [source] = archive.status()["sources"]
    [snapshot] = source["snapshots"]
    assert snapshot["kind"] == "own"
    assert snapshot["witnesses"] == [
        {
            "service": "save_page_now",
            "status": "done",
            "memento_url": f"https://web.archive.org/web/20260102030435/{LIVE}",
            "memento_datetime": "2026-01-02T03:04:35Z",
            "attempts": 0,
            "last_error": None,
            "similarity": None,
            # Compared at once, when the archive replays it: not yet here.
            "comparison": "not compared yet: the archive answered HTTP 404",
            "compared_at": None,
        }
    ]
    # Asked once per snapshot.
    clock.advance(seconds=60)
    assert _pass(archive).asked == 0


def test_rate_limit_answers_are_respected(
    archive: Archive, spn: SavePageNowServer, clock: FixedClock
) -> None:
    spn.script = [rate_limited(120), spn_error("error:user-session-limit", "Too many sessions")]
    _pass(archive)
    row = _row(archive)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "HTTP 429: rate limited"
    assert row.next_attempt_at == clock.now + timedelta(seconds=120)
    clock.advance(seconds=119)
    assert _pass(archive).asked == 0
    assert spn.submitted == [LIVE]
    clock.advance(seconds=1)
    _pass(archive)
    row = _row(archive)
    assert row.last_error == "error:user-session-limit: Too many sessions"
    assert row.next_attempt_at == clock.now + timedelta(minutes=2)  # backed off
    clock.advance(minutes=2)
    _pass(archive)
    assert _row(archive).status == "running"
    assert spn.submitted == [LIVE, LIVE, LIVE]


def test_given_up_after_max_attempts_or_a_refusal(
    simweb: SimulatedWeb,
    spn: SavePageNowServer,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    spn.script = [spn_error("error:too-many-daily-captures", "Daily limit"), rate_limited(1)]
    with _archive(
        simweb, make_settings, clock, tmp_path, witnesses__save_page_now_max_attempts="2"
    ) as archive:
        _pass(archive)
        clock.advance(minutes=5)
        assert _pass(archive).failed == 1
        row = _row(archive)
        assert (row.status, row.attempts) == ("failed", 2)
        assert row.last_error == "HTTP 429: rate limited"
        clock.advance(days=1)
        assert _pass(archive).asked == 0


def test_a_refused_url_is_not_asked_again(archive: Archive, spn: SavePageNowServer) -> None:
    spn.script = [spn_error("error:blocked-url", "This URL is excluded")]
    assert _pass(archive).failed == 1
    assert _row(archive).last_error == "error:blocked-url: This URL is excluded"


def test_wrong_keys_give_up_at_once(
    simweb: SimulatedWeb,
    spn: SavePageNowServer,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    with _archive(
        simweb, make_settings, clock, tmp_path, witnesses__save_page_now_secret_key="wrong"
    ) as archive:
        assert _pass(archive).failed == 1
        assert _row(archive).last_error == "HTTP 401: the keys were refused"


@pytest.mark.parametrize(
    "extra",
    [{"witnesses__save_page_now": "false"}, {"witnesses__enabled": "false"}],
    ids=["save_page_now off (the default)", "witnesses off"],
)
def test_nothing_is_asked_when_off(
    simweb: SimulatedWeb,
    spn: SavePageNowServer,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
    extra: dict[str, str],
) -> None:
    with _archive(simweb, make_settings, clock, tmp_path, **extra) as archive:
        assert _pass(archive) == PassSummary()
    assert spn.submitted == []
    assert not [r for r in simweb.requests if "archive.org" in r.url]


def test_save_page_now_needs_its_keys(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match="save_page_now needs save_page_now_access_key"):
        make_settings(witnesses__save_page_now="true")


def test_the_witness_copy_is_compared_with_ours(
    archive: Archive, spn: SavePageNowServer, clock: FixedClock
) -> None:
    spn.pending_polls = 0
    _pass(archive)
    clock.advance(seconds=30)
    assert _pass(archive).done == 1
    # Not replayable yet: tried again an hour later.
    row = _row(archive)
    assert row.comparison == "not compared yet: the archive answered HTTP 404"
    assert row.next_attempt_at == clock.now + timedelta(hours=1)
    spn.copies[LIVE] = PAGE
    clock.advance(hours=1)
    assert _pass(archive).compared == 1
    row = _row(archive)
    assert row.similarity == 1.0
    assert row.comparison == "matches our snapshot (main text 100% similar)"
    [snapshot] = archive.status()["sources"][0]["snapshots"]
    assert snapshot["witnesses"][0]["comparison"] == row.comparison
    clock.advance(hours=2)
    assert _pass(archive).compared == 0  # once


def test_a_witness_copy_that_differs_says_so(
    archive: Archive, spn: SavePageNowServer, clock: FixedClock
) -> None:
    spn.pending_polls = 0
    spn.copies[LIVE] = "<title>Live</title><article><p>Nothing happened.</p></article>"
    _pass(archive)
    clock.advance(seconds=30)
    assert _pass(archive).compared == 1
    row = _row(archive)
    assert row.similarity is not None and row.similarity < 0.9
    assert row.comparison is not None and row.comparison.startswith("differs from our snapshot")


def test_a_copy_never_replayed_is_given_up_after_two_days(
    archive: Archive, spn: SavePageNowServer, clock: FixedClock
) -> None:
    spn.pending_polls = 0
    _pass(archive)
    clock.advance(seconds=30)
    _pass(archive)
    for _ in range(48):
        clock.advance(hours=1)
        _pass(archive)
    row = _row(archive)
    assert row.comparison == "not compared: the archive answered HTTP 404"
    assert row.compared_at is not None and row.similarity is None
    # Tried hourly, then no more.
    assert 40 <= len(spn.replays) <= 50
    replays = len(spn.replays)
    clock.advance(hours=5)
    _pass(archive)
    assert len(spn.replays) == replays


def test_page_and_certificate_name_the_independent_copy(
    archive: Archive, spn: SavePageNowServer, clock: FixedClock, tmp_path: Path
) -> None:
    import zipfile
    from html import escape

    from tests.integration.witnesses.test_copy_shown import _page

    spn.pending_polls = 0
    spn.copies[LIVE] = PAGE
    _pass(archive)
    clock.advance(seconds=30)
    assert _pass(archive).compared == 1
    memento = f"https://web.archive.org/web/20260102030435/{LIVE}"
    [source] = archive.status()["sources"]
    page = _page(archive, f"/sources/{source['id']}")
    assert f'independent copy: <a href="{memento}"' in page
    assert "(matches our snapshot (main text 100% similar))" in page
    package = archive.export(str(source["id"]), tmp_path / "p.zip")
    with zipfile.ZipFile(package) as zf:
        html = next(zf.read(n) for n in zf.namelist() if n.endswith("certificate.html")).decode()
    assert (
        escape(
            f"{memento} (made 2026-01-02 03:04 UTC by the archive's Save Page Now at our request; "
            "matches our snapshot (main text 100% similar))"
        )
        in html
    )
