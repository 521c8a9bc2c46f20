"""The pages in real headless Chromium (Debian's, through Playwright): log in, open a
report, filter, open a source, download its WARC, as a person would. Screenshots are
kept under tests/artifacts/web/ (not in git) for people to look at."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, FixedClock
from tests.integration.web.browser import serve
from tests.integration.web.conftest import WebWorld
from tests.integration.web.dashboard_world import seed

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts" / "web"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="Debian's Chromium is missing"),
]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The browser tests look at pages; the data paths are tested on both databases."""
    return f"sqlite:///{tmp_path / 'archiver.db'}"


@pytest.fixture
def site(world: WebWorld) -> Iterator[str]:
    """The app on a real HTTP server on a free loopback port."""
    with serve(world.archive) as origin:
        yield origin


def test_monitor_and_lawyer_journey(site: str, world: WebWorld) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = browser.new_context(
                viewport={"width": 390, "height": 844}, accept_downloads=True
            )
            page = context.new_page()

            # Without a session every page is the login form.
            response = page.goto(f"{site}/reports/1")
            assert response is not None and response.status == 401
            expect(page.get_by_role("heading", name="Log in")).to_be_visible()
            page.get_by_label("Access token").fill("arch_wrong")
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("alert")).to_contain_text("not valid")
            page.get_by_label("Access token").fill(world.tokens["lawyer"])
            page.get_by_role("button", name="Log in").click()

            # Back on the report asked for first, footnote by footnote.
            expect(page).to_have_url(f"{site}/reports/1")
            expect(page.locator("#count")).to_have_text("Showing 127 of 127 citations.")
            expect(page.locator(".footnote")).to_have_count(127)
            first = page.locator(".footnote").first
            expect(first.locator(".marker")).to_have_text("[1]")
            expect(first.locator(".badge")).to_have_text("live")
            expect(first).to_contain_text("preserved")
            page.screenshot(path=str(ARTIFACTS / "report-phone.png"))

            # Filter by platform, then by state.
            status = world.archive.status()
            youtube = {s["id"] for s in status["sources"] if s["platform"] == "youtube"}
            cited = sum(1 for c in status["reports"][0]["citations"] if c["source_id"] in youtube)
            assert len(youtube) == 8 and cited > 0
            page.get_by_label("Platform").select_option("youtube")
            page.get_by_role("button", name="Filter").click()
            expect(page.locator("#count")).to_have_text(f"Showing {cited} of 127 citations.")
            expect(page.locator(".footnote .badge")).to_have_text(["pending"] * cited)
            page.get_by_label("Platform").select_option("")
            page.get_by_label("State", exact=True).select_option("live")
            page.get_by_role("button", name="Filter").click()
            expect(page.locator(".footnote")).to_have_count(1)

            # The source: state, screenshot, snapshots, timeline.
            page.locator(".footnote a").first.click()
            expect(page).to_have_url(f"{site}/sources/{world.source_id}")
            expect(page.locator("h1")).to_contain_text("facebook.com")
            image = page.get_by_alt_text("Screenshot of the source as captured")
            expect(image).to_be_visible()
            assert image.evaluate("img => img.naturalWidth") == 2
            expect(page.get_by_role("cell", name="HTTP 200").first).to_be_visible()
            page.set_viewport_size({"width": 1280, "height": 900})
            page.screenshot(path=str(ARTIFACTS / "source-desktop.png"), full_page=True)

            # Download the WARC: the same bytes as stored, sha256 as recorded.
            with page.expect_download() as info:
                page.get_by_role("link", name="WARC").first.click()
            saved = ARTIFACTS / "download.warc.gz"
            info.value.save_as(saved)
            assert hashlib.sha256(saved.read_bytes()).hexdigest() == world.warc_sha256

            # The evidence package: a clear message while the export is not built.
            try:
                import archiver.integrity.export  # noqa: F401
            except ImportError:
                page.get_by_role("link", name="evidence package").first.click()
                expect(page.get_by_role("heading", name="Not available")).to_be_visible()
                page.go_back()

            # Log out: the pages ask for a token again.
            page.get_by_role("button", name="Log out").click()
            expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        finally:
            browser.close()


def test_viewer_sees_no_download_links(site: str, world: WebWorld) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{site}/sources/{world.source_id}")
            page.get_by_label("Access token").fill(world.tokens["viewer"])
            page.get_by_role("button", name="Log in").click()
            expect(page.locator("h1")).to_contain_text("facebook.com")
            expect(page.get_by_role("link", name="WARC")).to_have_count(0)
            expect(page.get_by_text("viewing evidence needs the lawyer role")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "source-viewer.png"), full_page=True)
            # Typing the download address anyway is refused.
            response = page.goto(f"{site}/api/v1/snapshots/{world.snapshot_id}/warc")
            assert response is not None and response.status == 403
            expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        finally:
            browser.close()


def _no_sideways_scroll(page: Any, width: int = 390) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url}: {scroll} px wide at {width}"


def test_dashboard_on_a_phone(site: str, world: WebWorld, clock: FixedClock) -> None:
    """The report's dashboard at 390 px: chart, the "dead" filter showing exactly the
    dead footnotes, search; the archive-wide one and a dead source's page; none wider
    than the screen."""
    from playwright.sync_api import expect, sync_playwright

    seeded = seed(world, clock)
    dead = seeded.footnotes(seeded.sources_where(lambda s: s["state"] == "dead"))
    assert len(dead) == 3
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
            page.goto(f"{site}/reports/1")
            page.get_by_label("Access token").fill(world.tokens["lawyer"])
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("img", name="Footnotes by state")).to_be_visible()
            expect(page.locator("#count")).to_have_text("Showing 127 of 127 citations.")
            _no_sideways_scroll(page)
            page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"))

            page.get_by_label("State", exact=True).select_option("dead")
            page.get_by_role("button", name="Filter").click()
            expect(page.locator("#count")).to_have_text("Showing 3 of 127 citations.")
            shown = page.locator(".footnote").evaluate_all(
                "notes => notes.map(n => [n.querySelector('.marker').textContent,"
                " Number(n.dataset.source), n.querySelector('.badge').textContent])"
            )
            assert shown == [[f"[{m}]", sid, "dead"] for m, sid in dead]
            _no_sideways_scroll(page)

            citations = seeded.status["reports"][0]["citations"]
            warsaw = [c["source_id"] for c in citations if "Warsaw" in c["context"]]
            never = {seeded.ids["failed_dns"], seeded.ids["failed_timeout"]}
            page.get_by_label("State", exact=True).select_option("")
            page.get_by_label("Search").fill("warsaw")
            page.get_by_role("button", name="Filter").click()
            expect(page.locator(".footnote")).to_have_count(len(warsaw))
            page.get_by_label("never preserved").check()
            page.get_by_role("button", name="Filter").click()
            expect(page.locator(".footnote")).to_have_count(len(never.intersection(warsaw)))
            _no_sideways_scroll(page)

            page.goto(f"{site}/sources")
            expect(page.get_by_role("img", name="State changes per day")).to_be_visible()
            _no_sideways_scroll(page)
            page.screenshot(path=str(ARTIFACTS / "sources-dashboard-phone.png"), full_page=True)
            page.goto(f"{site}/sources/{seeded.ids['dead_then_now']}")
            expect(page.locator("#then-and-now")).to_contain_text("HTTP 404")
            _no_sideways_scroll(page)
            page.screenshot(path=str(ARTIFACTS / "dead-source-phone.png"), full_page=True)
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto(f"{site}/reports/1")
            _no_sideways_scroll(page, 1280)
            page.screenshot(path=str(ARTIFACTS / "dashboard-desktop.png"))
        finally:
            browser.close()
