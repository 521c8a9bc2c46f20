"""Platform probes through the simulated web: YouTube watch pages from the corpus read by
yt-dlp's own YouTube extractor (metadata only, offline), Facebook posts read by their
text with the operator's session. Each source is captured, its page scripted to change,
checked twice (the clock moved past confirm_after in between) and its state asserted."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.app import Archive
from archiver.config import Settings
from archiver.models import CheckResult, Observation, PlatformRecord, Source, StateTransition
from tests.conftest import FixedClock
from tests.integration.check import pages
from tests.simweb import SimulatedWeb, status

ACCUSING = {"dead", "removed", "altered", "redirected"}


def watch(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


# As the harvest writes them (story.php and m. addresses become these).
FB_EDITED = "https://www.facebook.com/permalink.php?story_fbid=3065154550235644&id=119240841493711"
FB_COUNTERS = (
    "https://www.facebook.com/permalink.php?story_fbid=3065154550299999&id=119240841493711"
)

# name -> (url, expected state after two checks)
SCENARIOS: dict[str, tuple[str, str]] = {
    "yt_title_changed": (watch("2lAe1cqCOXo"), "altered"),
    "yt_counters_changed": (watch("QRS8MkLhQmM"), "live"),
    "yt_removed": (watch("irauhITDrsE"), "removed"),
    "yt_rate_limited": (watch("pvkTC2xIbeY"), "blocked"),
    "yt_bot_check": (watch("m8uHb5jIGN8"), "blocked"),
    "yt_http_404": (watch("9bZkp7q19f0"), "dead"),
    "fb_post_edited": (FB_EDITED, "altered"),
    "fb_counters_changed": (FB_COUNTERS, "live"),
}
NEW_TITLE = "YouTube Rewind 2019: What We Deleted"
EDIT = b"We hope you enjoy them! Offer valid until 5 May only."
SESSION_VALUE = "c-user-session-value-7f3a9e1b2d4c"


def url(name: str) -> str:
    return SCENARIOS[name][0]


def serve_watch(web: SimulatedWeb, address: str, body: bytes | object) -> None:
    """A watch page, also under the address yt-dlp's YouTube extractor asks for."""
    for target in (address, f"{address}&bpctr=9999999999&has_verified=1"):
        web.page(target, body)  # type: ignore[arg-type]


def corpus(name: str, video_id: str | None = None) -> bytes:
    """A corpus page; with ``video_id`` the page of another video made to be that one."""
    data = pages.corpus_page(name)
    if video_id is not None:
        data = data.replace(name.split("/")[-1].split(".")[0].encode(), video_id.encode())
    return data


def serve_originals(web: SimulatedWeb) -> None:
    serve_watch(web, url("yt_title_changed"), corpus("youtube/2lAe1cqCOXo.html"))
    serve_watch(web, url("yt_counters_changed"), corpus("youtube/QRS8MkLhQmM.html"))
    serve_watch(web, url("yt_removed"), corpus("youtube/2lAe1cqCOXo.html", "irauhITDrsE"))
    serve_watch(web, url("yt_rate_limited"), corpus("youtube/pvkTC2xIbeY.html"))
    serve_watch(web, url("yt_bot_check"), corpus("youtube/2lAe1cqCOXo.html", "m8uHb5jIGN8"))
    serve_watch(web, url("yt_http_404"), corpus("youtube/9bZkp7q19f0.html"))
    post = corpus("facebook/fb-m-nintendo-post-3065154550235644-2021.html")
    web.page(FB_EDITED, post)
    web.page(FB_COUNTERS, post)


def more_views(data: bytes) -> bytes:
    """The same video with other view and like counts."""
    data = re.sub(rb'"viewCount":"\d+"', b'"viewCount":"5123456789"', data)
    return re.sub(rb"\d[\d,.]* views", b"5,123,456,789 views", data)


def script_changes(web: SimulatedWeb) -> None:
    original = corpus("youtube/2lAe1cqCOXo.html")
    serve_watch(
        web,
        url("yt_title_changed"),
        original.replace(b"YouTube Rewind 2019: For the Record", NEW_TITLE.encode()),
    )
    serve_watch(web, url("yt_counters_changed"), more_views(corpus("youtube/QRS8MkLhQmM.html")))
    serve_watch(web, url("yt_removed"), corpus("youtube/irauhITDrsE--2023-05.html"))
    serve_watch(web, url("yt_rate_limited"), status(429, headers={"Retry-After": "1"}))
    private = corpus("youtube/m8uHb5jIGN8.html")
    serve_watch(
        web,
        url("yt_bot_check"),
        private.replace(b"Private video", "Sign in to confirm you’re not a bot".encode()),
    )
    web.remove(url("yt_http_404"))
    web.remove(f"{url('yt_http_404')}&bpctr=9999999999&has_verified=1")
    post = corpus("facebook/fb-m-nintendo-post-3065154550235644-2021.html")
    web.page(FB_EDITED, post.replace(b"We hope you enjoy them!", EDIT))
    counters = post.replace(b"7.5M likes this", b"7.6M likes this")
    counters = counters.replace(b'"userInteractionCount":2117', b'"userInteractionCount":2931')
    web.page(FB_COUNTERS, counters.replace(b"View more comments", b"View 12 more comments"))


@pytest.fixture
def session_file(tmp_path: Path) -> Path:
    path = tmp_path / "facebook-session.json"
    cookie = {"name": "xs", "value": SESSION_VALUE, "domain": ".facebook.com", "path": "/"}
    path.write_text(json.dumps({"cookies": [{**cookie, "secure": True}], "origins": []}))
    return path


@pytest.fixture
def captured(
    simweb: SimulatedWeb,
    make_settings: Callable[..., Settings],
    session_file: Path,
    clock: FixedClock,
    tmp_path: Path,
) -> Iterator[Archive]:
    serve_originals(simweb)
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        network__timeout="3",
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        capture__modes='{default = ["http"]}',
        check__confirm_after="1h",
        check__probe_budget="10",
        check__jitter="0",
        platforms__facebook_session=str(session_file),
    )
    report = tmp_path / "digest.txt"
    lines = [f"Claim {i}[{i}]." for i in range(1, len(SCENARIOS) + 1)]
    notes = [f"[{i}]{address}" for i, (address, _) in enumerate(SCENARIOS.values(), 1)]
    report.write_text("Digest\n\n" + "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        outcomes = archive.capture()
        assert len(outcomes) == len(SCENARIOS)
        assert all(o.preserved for o in outcomes), [(o.url, o.error) for o in outcomes]
        yield archive


def states(archive: Archive) -> dict[str, str]:
    with archive.db.session() as session:
        by_url = {u: s for u, s in session.execute(select(Source.url, Source.state))}
    return {name: by_url[address] for name, (address, _) in SCENARIOS.items()}


def latest_result(archive: Archive, address: str) -> CheckResult:
    with archive.db.session() as session:
        source = session.scalars(select(Source).where(Source.url == address)).one()
        result = session.scalars(
            select(CheckResult)
            .where(CheckResult.source_id == source.id)
            .order_by(CheckResult.id.desc())
        ).first()
        assert result is not None
        session.expunge(result)
        return result


def test_platform_sources_end_in_the_right_state(
    captured: Archive,
    simweb: SimulatedWeb,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    archive = captured
    assert set(states(archive).values()) == {"live"}, states(archive)
    with archive.db.session() as session:
        records = {r.source_id: r.extracted for r in session.scalars(select(PlatformRecord))}
    assert len(records) == len(SCENARIOS)  # the baselines' fields exist
    script_changes(simweb)
    simweb.clear_log()

    clock.advance(hours=3)
    first = archive.check(everything=True)
    assert len(first) == 1 and not first[0].degraded
    after_first = states(archive)
    assert not ACCUSING & set(after_first.values()), after_first
    pending = {o.url: o.pending for o in first[0].outcomes if o.pending}
    for name, (address, expected) in SCENARIOS.items():
        if expected in ACCUSING:
            assert pending.get(address) == expected, (name, first[0].outcomes)

    clock.advance(hours=1, minutes=1)
    second = archive.check(everything=True)
    assert not second[0].degraded
    assert states(archive) == {name: state for name, (_, state) in SCENARIOS.items()}

    # YouTube was read by yt-dlp (its extractor asks for the bpctr address).
    assert simweb.hits(f"{url('yt_title_changed')}&bpctr=9999999999&has_verified=1") >= 2
    title = latest_result(archive, url("yt_title_changed"))
    assert title.details["changed"] == ["title"]
    assert f"+ title: {NEW_TITLE} | #YouTubeRewind" in title.diff
    assert "- title: YouTube Rewind 2019: For the Record | #YouTubeRewind" in title.diff
    assert title.similarity is not None and title.similarity < 1.0
    views = latest_result(archive, url("yt_counters_changed"))
    assert views.details["compared"] == ["title", "description", "duration"]
    assert views.details["changed"] == [] and views.similarity == 1.0

    edited = latest_result(archive, url("fb_post_edited"))
    assert edited.details["changed"] == ["text"]
    assert any(line.startswith("+ text: ") and "5 May" in line for line in edited.diff)
    counters = latest_result(archive, url("fb_counters_changed"))
    assert counters.details["changed"] == [] and counters.similarity == 1.0

    with archive.db.session() as session:
        for transition in session.scalars(select(StateTransition)):
            if transition.to_state in ACCUSING:
                assert len(transition.observation_ids) >= 2
        reasons = {
            o.reason for o in session.scalars(select(Observation).where(Observation.via == "check"))
        }
    assert any("Video unavailable" in r for r in reasons)
    assert any("not a bot" in r for r in reasons)

    # The Facebook probe sent the operator's session to Facebook only, and its value is
    # nowhere in the logs or the database.
    sent = [(u, h.get("cookie")) for _, u, h in simweb.requests]
    assert (FB_EDITED, f"xs={SESSION_VALUE}") in sent
    assert not [
        a for a, cookie in sent if "facebook.com" not in a and SESSION_VALUE in (cookie or "")
    ]
    assert SESSION_VALUE not in caplog.text
    root = archive.settings.storage.root
    scanned = [p for p in root.rglob("*") if p.is_file()]
    assert root / "archiver.db" in scanned
    for path in scanned:
        assert SESSION_VALUE.encode() not in path.read_bytes(), path


def test_proxy_down_is_our_outage_for_platform_sources_too(
    captured: Archive, simweb: SimulatedWeb, clock: FixedClock
) -> None:
    archive = captured
    before = states(archive)
    simweb.offline()
    clock.advance(hours=2)
    reports = archive.check(everything=True)
    simweb.online()
    assert reports and all(r.degraded for r in reports)
    assert "proxy" in (reports[0].degraded_reason or "")
    assert states(archive) == before


def test_platform_probes_off_keeps_the_http_probe(
    captured: Archive, simweb: SimulatedWeb, clock: FixedClock
) -> None:
    """check.platform_probes = false: the page is fetched as any page (yt-dlp's address
    is never asked for) and compared by its main text."""
    archive = captured
    settings = archive.settings.model_copy(
        update={"check": archive.settings.check.model_copy(update={"platform_probes": False})}
    )
    archive.settings = settings
    simweb.clear_log()
    clock.advance(hours=3)
    reports = archive.check(everything=True)
    assert not reports[0].degraded
    assert not any("bpctr" in u for _, u, _ in simweb.requests)
    assert simweb.hits(url("yt_title_changed")) >= 1
