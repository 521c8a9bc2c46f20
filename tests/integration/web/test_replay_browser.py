"""A snapshot replayed on its source page, in real headless Chromium with the network
to anything but the archiver blocked: ReplayWeb.page's own files and the snapshot's WACZ,
all served by the archiver (no CDN), the archived news page's headline inside the replay
frame, seen by a viewer who cannot download the file, the view in the custody log."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.integrity.custody import load_chain
from tests.conftest import FixedClock
from tests.integration.web.browser import (
    REPLAYWEBPAGE,
    Watch,
    frame_holding,
    launch,
    log_in,
    needs_chromium,
    no_sideways_scroll,
    serve,
    shoot,
)
from tests.integration.web.conftest import WebWorld, add_snapshot

pytestmark = [pytest.mark.slow, needs_chromium]

SHOT_HEIGHT = 7000
HEADLINE = "В Кызылорде начался суд над журналистом Айдосом Садыковым"
# The photo was not captured: the replay must not fetch it from the live site.
NEWS = f"""<!doctype html><html lang="ru"><head><meta charset="utf-8">
<title>{HEADLINE} | Новости</title></head>
<body><header><a href="/">Новости</a></header>
<article><h1>{HEADLINE}</h1>
<img src="https://rus.azattyq.org/img/court.jpg" alt="Здание суда">
<p class="lead">3 октября в Кызылорде суд начал рассматривать дело журналиста.</p>
<p>Защита просит открыть заседание для публики.</p></article></body></html>"""


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'archiver.db'}"


@pytest.fixture
def news(world: WebWorld, clock: FixedClock) -> tuple[int, str]:
    """A news source of report 001 with a captured article: (source id, snapshot id)."""
    source = next(s for s in world.archive.status()["sources"] if s["id"] != world.source_id)
    clock.advance(minutes=1)
    snapshot_id, _path, _sha = add_snapshot(
        world.archive, source["id"], clock, html=NEWS, title=HEADLINE, png=_full_height()
    )
    return source["id"], snapshot_id


def _full_height() -> bytes:
    """A full-page screenshot as captures make them: 1280 px wide, 7,000 px high."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (1280, SHOT_HEIGHT), (240, 240, 235)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def site(world: WebWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if not (REPLAYWEBPAGE / "sw.js").is_file():
        pytest.fail("replaywebpage is not installed in .tools-npm (./dev test installs it)")
    # Playwright reports the replay's service worker's requests too.
    monkeypatch.setenv("PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS", "1")
    with serve(world.archive) as origin:
        yield origin


def test_a_viewer_sees_the_news_page_replayed(
    site: str, world: WebWorld, news: tuple[int, str]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    source_id, snapshot_id = news
    snap = next(
        s
        for src in world.archive.status()["sources"]
        for s in src["snapshots"]
        if s["id"] == snapshot_id
    )
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            watch = Watch(context, site)
            page = context.new_page()
            page.set_default_timeout(30_000)
            log_in(page, site, world.tokens["viewer"], f"/sources/{source_id}")

            # Around the replay: the capture's URL, time and hashes.
            replay = page.locator("#replay")
            expect(replay).to_contain_text(f"HTTP 200: “{HEADLINE}”")
            expect(replay).to_contain_text("https://rus.azattyq.org/")
            expect(replay).to_contain_text(snap["captured_at"][:19].replace("T", " "))
            expect(replay).to_contain_text(snap["warc_sha256"])
            expect(replay).to_contain_text(snap["payload_sha256"])

            # The headline, inside the replay frame, not in the archiver's own page.
            frame = frame_holding(page, HEADLINE)
            assert frame != page.main_frame and "/replay/w/" in frame.url, frame.url
            expect(frame.get_by_role("heading", level=1)).to_have_text(HEADLINE)
            assert not watch.problems(), watch.problems()
            shoot(page, "replay-desktop.png")
            page.set_viewport_size({"width": 390, "height": 844})
            no_sideways_scroll(page, 390)
            shoot(page, "replay-phone.png")

            # Seen once (the worker read several ranges): one custody entry, inline.
            with world.archive.db.session() as session:
                seen = [
                    e
                    for e in load_chain(session)
                    if e.subject_id == snapshot_id and e.details.get("artefact") == "replay"
                ]
            assert len(seen) == 1, seen
            assert seen[0].action == "download" and seen[0].details["inline"] is True
            assert seen[0].details["role"] == "viewer"
            assert seen[0].details["sha256"] == snap["warc_sha256"]

            # The viewer cannot download the file the replay reads by following its link.
            response = page.goto(f"{site}/snapshots/{snapshot_id}.wacz")
            assert response is not None and response.status == 403
            expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        finally:
            browser.close()


def test_a_full_height_screenshot_is_a_thumbnail_opening_full_size(
    site: str, world: WebWorld, news: tuple[int, str]
) -> None:
    """Finding: a 7,000 px screenshot pushed everything below it away."""
    from playwright.sync_api import expect, sync_playwright

    source_id, snapshot_id = news
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            watch = Watch(context, site)
            page = context.new_page()
            page.set_default_timeout(30_000)
            log_in(page, site, world.tokens["lawyer"], f"/sources/{source_id}")
            frame_holding(page, HEADLINE)
            image = page.get_by_alt_text("Screenshot of the source as captured (baseline)")
            expect(image).to_be_visible()
            assert image.evaluate("img => img.naturalHeight") == SHOT_HEIGHT
            box = image.bounding_box()
            assert box is not None and box["height"] <= 18 * 16 + 2, box
            # What follows it is close below, not 7,000 px down.
            snapshots = page.get_by_role("heading", name="Snapshots").bounding_box()
            assert snapshots is not None and snapshots["y"] < box["y"] + box["height"] + 400

            page.get_by_role("link", name="open full size").click()
            expect(page).to_have_url(f"{site}/api/v1/snapshots/{snapshot_id}/screenshot?inline=1")
            full = page.locator("img")
            assert full.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [
                1280,
                SHOT_HEIGHT,
            ]
            assert not watch.problems(), watch.problems()
        finally:
            browser.close()
