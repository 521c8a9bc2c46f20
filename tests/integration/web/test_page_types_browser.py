"""Every page type in real headless Chromium, with the network to anything but the
archiver blocked: no request goes elsewhere or fails, no Content-Security-Policy
violation; axe-core (its own file from npm, ./dev test installs it into .tools-npm)
finds no serious or critical violation; at 390 px nothing scrolls sideways. Each page is
kept as a screenshot at 1280 and 390 px under tests/artifacts/web/ (docs/web.md)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FixedClock
from tests.integration.web.browser import (
    AXE,
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
from tests.integration.web.dashboard_world import seed
from tests.integration.web.test_replay_browser import HEADLINE, NEWS

pytestmark = [pytest.mark.slow, needs_chromium]

# The text of the page world.source_id's snapshot captured (tests/integration/web/conftest.py).
CAPTURED = "Задержан журналист."
# What axe-core must not find. The replayed page is the archived site's own, as it was
# captured: not ours to change, so the replay element is left out of the check.
BLOCKING = ("serious", "critical")
AXE_RUN = """async () => {
  const result = await axe.run({exclude: [["replay-web-page"]]},
                               {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""


@dataclass(frozen=True)
class PageType:
    name: str
    path: str
    # Shown when the page is ready (a locator's text, or the replay's headline).
    ready: Callable[[Any], None]
    axe: bool = True
    status: int = 200


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'archiver.db'}"


@pytest.fixture
def site(world: WebWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for needed in (REPLAYWEBPAGE / "sw.js", AXE):
        if not needed.is_file():
            pytest.fail(f"{needed} is missing (./dev test installs it)")
    monkeypatch.setenv("PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS", "1")
    with serve(world.archive) as origin:
        yield origin


def _text(selector: str, text: str) -> Callable[[Any], None]:
    def ready(page: Any) -> None:
        from playwright.sync_api import expect

        # Generous: the shared machine may be busy; a ready page passes at once.
        expect(page.locator(selector).first).to_contain_text(text, timeout=30_000)

    return ready


def _shows(text: str) -> Callable[[Any], None]:
    def ready(page: Any) -> None:
        frame_holding(page, text)

    return ready


def _page_types(world: WebWorld, clock: FixedClock) -> list[PageType]:
    seeded = seed(world, clock)
    taken = {world.source_id, *seeded.ids.values()}
    news = next(
        s
        for s in world.archive.status()["sources"]
        if s["id"] not in taken and s["kind"] == "article"
    )
    clock.advance(minutes=1)
    add_snapshot(world.archive, news["id"], clock, html=NEWS, title=HEADLINE)
    return [
        PageType("overview", "/", _text("h1", "Evidence status")),
        PageType("report", "/reports/1", _text("#count", "of 127 citations")),
        PageType("report-dead", "/reports/1?state=dead", _text("#count", "Showing 3 of")),
        PageType("sources", "/sources", _text("main", "State changes per day")),
        PageType("source-replay", f"/sources/{news['id']}", _shows(HEADLINE)),
        # Its snapshot is replayed too: ready when the replay shows the captured text
        # (leaving earlier would cut the replay's requests short).
        PageType("source-screenshot", f"/sources/{world.source_id}", _shows(CAPTURED)),
        PageType(
            "source-dead",
            f"/sources/{seeded.ids['dead_then_now']}",
            _text("#then-and-now", "HTTP 404"),
        ),
        PageType("add", "/add", _text("h1", "Add")),
        PageType("tokens", "/tokens", _text("h1", "Access tokens")),
        PageType("not-found", "/sources/999999", _text("main", "No such source"), status=404),
        # Swagger UI's own page (swagger-ui-bundle): checked for what it loads only.
        PageType("api-docs", "/api/v1/docs", _text(".swagger-ui", "Evidence archiver"), False),
    ]


def test_every_page_type(site: str, world: WebWorld, clock: FixedClock) -> None:
    from playwright.sync_api import sync_playwright

    kinds = _page_types(world, clock)
    axe_source = AXE.read_text(encoding="utf-8")
    found: dict[str, list[dict[str, Any]]] = {}
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            watch = Watch(context, site)
            page = context.new_page()
            page.set_default_timeout(30_000)

            # The login page, before any session.
            page.goto(f"{site}/login")
            _check(page, "login", True, axe_source, found)
            log_in(page, site, world.tokens["admin"])

            for kind in kinds:
                page.set_viewport_size({"width": 1280, "height": 900})
                if kind.status >= 400:
                    watch.refusals_asked.add(f"{site}{kind.path}")
                response = page.goto(f"{site}{kind.path}")
                assert response is not None and response.status == kind.status, kind.path
                kind.ready(page)
                _check(page, kind.name, kind.axe, axe_source, found)
            assert not watch.problems(), watch.problems()
        finally:
            browser.close()
    serious = {
        name: [v for v in violations if v["impact"] in BLOCKING]
        for name, violations in found.items()
    }
    assert not any(serious.values()), json.dumps(serious, indent=1, ensure_ascii=False)


def _check(
    page: Any, name: str, axe: bool, axe_source: str, found: dict[str, list[dict[str, Any]]]
) -> None:
    """axe-core at 1280 px, screenshots at 1280 and 390 px, no sideways scroll at 390."""
    if axe:
        # Evaluated through the browser's debugging protocol, so the page's policy
        # (no script but its own) does not stop it, and nothing is added to the page.
        page.evaluate(axe_source)
        found[name] = page.evaluate(AXE_RUN)
    shoot(page, f"{name}-desktop.png")
    page.set_viewport_size({"width": 390, "height": 844})
    no_sideways_scroll(page, 390)
    shoot(page, f"{name}-phone.png")
