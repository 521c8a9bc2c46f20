"""An altered source's page in real headless Chromium (network to anything but the
archiver blocked): the baseline and the latest snapshot side by side, each labelled with
its own screenshot, and what changed with the figures before and after. Finding: after
an altered source was captured again, the page showed the new (altered) snapshot where
the baseline belonged."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.models import CheckResult, CheckRun, Observation, Source
from tests.conftest import FixedClock
from tests.integration.web.browser import Watch, launch, log_in, needs_chromium, serve, shoot
from tests.integration.web.conftest import WebWorld, add_snapshot

pytestmark = [pytest.mark.slow, needs_chromium]

BEFORE = "<html><head><title>Штат</title></head><body><p>В институтах работают 67 000 научных сотрудников.</p></body></html>"
AFTER = "<html><head><title>Штат</title></head><body><p>В институтах работают 6 700 научных сотрудников.</p></body></html>"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'archiver.db'}"


def _png(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(out, "PNG")
    return out.getvalue()


def _altered(world: WebWorld, clock: FixedClock) -> tuple[int, str, str]:
    """A source captured (baseline), found altered by a re-check, captured again: its
    id, the baseline's and the latest snapshot's ids."""
    archive = world.archive
    source_id = next(s["id"] for s in archive.status()["sources"] if s["id"] != world.source_id)
    clock.advance(minutes=1)
    baseline, _, _ = add_snapshot(archive, source_id, clock, html=BEFORE, png=_png((20, 90, 20)))
    clock.advance(days=1)
    with archive.db.session() as session:
        url = session.get(Source, source_id).url  # type: ignore[union-attr]
        run = CheckRun(
            started_at=clock(), finished_at=clock(), trigger="cli", checked=1, changed=1, summary={}
        )
        check = Observation(
            source_id=source_id,
            observed_at=clock(),
            via="check",
            http_status=200,
            final_url=url,
            implied_state="altered",
            resulting_state="altered",
            reason="the text changed: similarity 0.91 to the baseline; figures changed",
        )
        session.add_all([run, check])
        session.flush()
        session.add(
            CheckResult(
                observation_id=check.id,
                run_id=run.id,
                source_id=source_id,
                degraded=False,
                baseline_snapshot_id=baseline,
                similarity=0.91,
                diff=[
                    "- В институтах работают 67 000 научных сотрудников.",
                    "+ В институтах работают 6 700 научных сотрудников.",
                ],
                details={"changes": [{"before": "67 000", "after": "6 700"}]},
            )
        )
    clock.advance(hours=1)
    latest, _, _ = add_snapshot(archive, source_id, clock, html=AFTER, png=_png((150, 20, 20)))
    with archive.db.session() as session:
        # As the capture records it: a 2xx does not take "altered" back.
        capture = session.scalars(
            select(Observation).where(Observation.snapshot_id == latest)
        ).one()
        capture.resulting_state = "altered"
        session.get(Source, source_id).state = "altered"  # type: ignore[union-attr]
    return source_id, baseline, latest


def test_the_altered_page_shows_baseline_and_latest_and_what_changed(
    world: WebWorld, clock: FixedClock
) -> None:
    from playwright.sync_api import expect, sync_playwright

    source_id, baseline, latest = _altered(world, clock)
    status = {s["id"]: s for s in world.archive.status()["sources"]}[source_id]
    assert (status["state"], status["baseline_snapshot"], status["latest_snapshot"]) == (
        "altered",
        baseline,
        latest,
    )
    with serve(world.archive) as site, sync_playwright() as pw:
        browser = launch(pw)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            watch = Watch(context, site)
            page = context.new_page()
            page.set_default_timeout(30_000)
            log_in(page, site, world.tokens["lawyer"], f"/sources/{source_id}")
            expect(page.get_by_role("heading", name="Baseline and latest snapshot")).to_be_visible()
            shots = {}
            for label, snapshot_id in (("baseline", baseline), ("latest", latest)):
                image = page.get_by_alt_text(f"Screenshot of the source as captured ({label})")
                expect(image).to_be_visible()
                assert snapshot_id in (image.get_attribute("src") or "")
                page.wait_for_function(
                    "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
                )
                shots[label] = image.bounding_box()
            # Side by side at 1280 px: the baseline first, on the left.
            assert shots["baseline"] is not None and shots["latest"] is not None
            assert shots["baseline"]["x"] < shots["latest"]["x"]
            assert abs(shots["baseline"]["y"] - shots["latest"]["y"]) < 40
            changed = page.locator("ul.changes li")
            expect(changed).to_have_count(1)
            assert changed.locator("del").inner_text() == "67 000"
            assert changed.locator("ins").inner_text() == "6 700"
            expect(page.locator("pre.diff")).to_contain_text("- В институтах работают 67 000")
            shoot(page, "altered-source-1280.png")
            assert not watch.problems(), watch.problems()
        finally:
            browser.close()
