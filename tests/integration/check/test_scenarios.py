"""The re-check scenario suite: capture a page through the simulated web, script what
happens to it, check twice (the clock moved past confirm_after in between) and assert the
state the source ends in. No "unchanged" or "our network is down" scenario may ever end
dead, removed or altered."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.app import Archive
from archiver.config import Settings
from archiver.models import (
    Baseline,
    CheckResult,
    CheckRun,
    CustodyEvent,
    Snapshot,
    SnapshotSeal,
    Source,
    StateTransition,
)
from tests.conftest import FixedClock
from tests.integration.check import pages
from tests.simweb import CANARY_URL, SimulatedWeb, hang, status

ACCUSING = {"dead", "removed", "altered", "redirected"}

# name -> (url, expected state after two checks)
SCENARIOS: dict[str, tuple[str, str]] = {
    "unchanged_rotating": ("https://azattyq-sim.kz/a/unchanged.html", "live"),
    "typo_fixed": ("https://azattyq-sim.kz/a/typo.html", "live"),
    "paragraph_rewritten": ("https://azattyq-sim.kz/a/rewritten.html", "altered"),
    "replaced": ("https://kaztag-sim.kz/ru/news/replaced", "altered"),
    "http_404": ("https://kaztag-sim.kz/ru/news/deleted", "dead"),
    "http_410": ("https://tengri-sim.kz/news/gone-for-good", "dead"),
    "soft_404": ("https://soft404-sim.kz/story/123", "removed"),
    "home_redirect": ("https://orda-sim.kz/story/moved", "redirected"),
    "fb_unavailable": ("https://www.facebook.com/permalink.php?story_fbid=1&id=2", "removed"),
    "login_wall": ("https://social-sim.kz/posts/77", "restricted"),
    "youtube_removed": ("https://www.youtube.com/watch?v=irauhITDrsE", "removed"),
    "rate_limited": ("https://ratelimit-sim.kz/a/1", "blocked"),
    "bot_wall": ("https://botwall-sim.kz/a/1", "blocked"),
    "timeout": ("https://slow-sim.kz/a/1", "unreachable"),
    "dns_failure": ("https://vanished-sim.kz/a/1", "dead"),
}
NEVER_ACCUSED = {"unchanged_rotating", "typo_fixed", "rate_limited", "bot_wall", "timeout"}


def url(name: str) -> str:
    return SCENARIOS[name][0]


def serve_originals(web: SimulatedWeb) -> None:
    for address, _ in SCENARIOS.values():
        web.page(address, pages.article(noise=1))
    web.page(url("unchanged_rotating"), pages.rotating())
    web.page(url("typo_fixed"), pages.with_typo())
    web.host("soft404-sim.kz", soft_404=True, not_found_body=pages.NOT_FOUND)
    web.page(
        url("fb_unavailable"),
        pages.corpus_page("facebook/fb-www-dag-permalink-827163017327807-2020.html"),
    )
    web.page(url("youtube_removed"), pages.corpus_page("youtube/2lAe1cqCOXo.html"))


def script_changes(web: SimulatedWeb) -> None:
    # unchanged_rotating: nothing (the handler rotates ads, dates and counters itself)
    web.page(url("typo_fixed"), pages.article(noise=3))
    web.page(url("paragraph_rewritten"), pages.paragraph_rewritten())
    web.page(url("replaced"), pages.other_article())
    web.remove(url("http_404"))
    web.gone(url("http_410"))
    web.remove(url("soft_404"))
    web.page("https://orda-sim.kz/", pages.HOME)
    web.redirect(url("home_redirect"), "https://orda-sim.kz/", status=302)
    web.page(url("fb_unavailable"), pages.FB_UNAVAILABLE)
    web.page("https://social-sim.kz/login?next=/posts/77", pages.LOGIN)
    web.redirect(url("login_wall"), "https://social-sim.kz/login?next=/posts/77", status=302)
    web.page(url("youtube_removed"), pages.corpus_page("youtube/irauhITDrsE--2023-05.html"))
    web.page(
        url("rate_limited"), status(429, headers={"Retry-After": "1"}, body="Too Many Requests")
    )
    web.page(url("bot_wall"), status(403, body=pages.BOT_WALL))
    web.page(url("timeout"), hang())
    web.dns_failure("vanished-sim.kz")


@pytest.fixture
def settings_for(
    make_settings: Callable[..., Settings],
) -> Callable[[SimulatedWeb], Settings]:
    def build(web: SimulatedWeb) -> Settings:
        return make_settings(
            network__proxy=web.proxy_url,
            network__timeout="1.5",
            capture__extra_ca_file=str(web.ca_pem_path),
            capture__per_host_interval="0",
            capture__modes='{article = ["http"], default = ["http"]}',
            check__confirm_after="1h",
            check__probe_budget="3",
            check__jitter="0",
        )

    return build


@pytest.fixture
def captured(
    simweb: SimulatedWeb,
    settings_for: Callable[[SimulatedWeb], Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> Iterator[Archive]:
    serve_originals(simweb)
    report = tmp_path / "digest.txt"
    lines = [f"Claim {i}[{i}]." for i in range(1, len(SCENARIOS) + 1)]
    notes = [f"[{i}]{address}" for i, (address, _) in enumerate(SCENARIOS.values(), 1)]
    report.write_text("Digest\n\n" + "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n")
    with Archive.open(settings_for(simweb), clock=clock) as archive:
        archive.add(str(report))
        outcomes = archive.capture()
        assert len(outcomes) == len(SCENARIOS)
        assert all(o.preserved for o in outcomes), [
            (o.url, o.http_status, o.failure) for o in outcomes
        ]
        yield archive


def states(archive: Archive) -> dict[str, str]:
    with archive.db.session() as session:
        by_url = {u: s for u, s in session.execute(select(Source.url, Source.state))}
    return {name: by_url[address] for name, (address, _) in SCENARIOS.items()}


def test_every_scenario_ends_in_the_right_state(
    captured: Archive,
    simweb: SimulatedWeb,
    clock: FixedClock,
) -> None:
    archive = captured
    assert set(states(archive).values()) == {"live"}
    script_changes(simweb)

    clock.advance(hours=3)
    first = archive.check(everything=True, recognizer=pages.local_recognizer)
    assert len(first) == 1 and not first[0].degraded
    after_first = states(archive)
    # One observation accuses nobody: accusations wait for confirmation.
    assert not ACCUSING & set(after_first.values()), after_first
    pending = {o.url: o.pending for o in first[0].outcomes if o.pending}
    for name, (address, expected) in SCENARIOS.items():
        if expected in ACCUSING:
            assert pending.get(address) == expected, name

    clock.advance(hours=1, minutes=1)
    second = archive.check(everything=True, recognizer=pages.local_recognizer)
    assert not second[0].degraded
    expected = {name: state for name, (_, state) in SCENARIOS.items()}
    assert states(archive) == expected
    for name in NEVER_ACCUSED:
        assert expected[name] not in ACCUSING

    with archive.db.session() as session:
        # Every accusation is backed by two observations an hour apart.
        for transition in session.scalars(select(StateTransition)):
            if transition.to_state in ACCUSING:
                assert len(transition.observation_ids) >= 2
        # One custody event per check.
        checks = session.scalars(select(CustodyEvent).where(CustodyEvent.action == "check")).all()
        assert len(checks) == 2 * len(SCENARIOS)
        # The altered sources were captured again; their baseline is the first snapshot.
        for name in ("paragraph_rewritten", "replaced"):
            source = session.scalars(select(Source).where(Source.url == url(name))).one()
            snapshots = session.scalars(
                select(Snapshot)
                .where(Snapshot.source_id == source.id)
                .order_by(Snapshot.started_at)
            ).all()
            assert len(snapshots) == 2
            baseline = session.get(Baseline, source.id)
            assert baseline is not None and baseline.snapshot_id == snapshots[0].id
            transition = session.scalars(
                select(StateTransition).where(StateTransition.source_id == source.id)
            ).one()
            assert transition.snapshot_id == snapshots[1].id
            # The re-capture is sealed like any capture (signed manifest, custody entry).
            assert session.get(SnapshotSeal, snapshots[1].id) is not None
            result = session.scalars(
                select(CheckResult)
                .where(CheckResult.source_id == source.id)
                .order_by(CheckResult.id.desc())
            ).first()
            assert result is not None and result.similarity is not None
            assert result.similarity < 0.9
            assert any(line.startswith("+ ") for line in result.diff)
        typo = session.scalars(select(Source).where(Source.url == url("typo_fixed"))).one()
        typo_result = session.scalars(
            select(CheckResult).where(CheckResult.source_id == typo.id)
        ).first()
        assert typo_result is not None and typo_result.similarity is not None
        assert 0.9 <= typo_result.similarity < 1.0
        assert session.scalars(select(CheckRun).where(CheckRun.degraded)).first() is None


def test_proxy_down_changes_nothing(
    captured: Archive,
    simweb: SimulatedWeb,
    clock: FixedClock,
) -> None:
    archive = captured
    before = states(archive)
    simweb.offline()
    for _ in range(2):
        clock.advance(hours=2)
        reports = archive.check(everything=True, recognizer=pages.local_recognizer)
        assert reports and all(r.degraded for r in reports)
        assert "proxy" in (reports[0].degraded_reason or "")
        assert states(archive) == before
    simweb.online()
    with archive.db.session() as session:
        assert session.scalars(select(StateTransition)).first() is None
        runs = session.scalars(select(CheckRun)).all()
        assert len(runs) == 2 and all(r.degraded for r in runs)


def test_many_unrelated_hosts_failing_is_our_outage(
    captured: Archive,
    simweb: SimulatedWeb,
    clock: FixedClock,
) -> None:
    """DNS answers stop for most hosts at once, the control site's too (our resolver,
    not the sites): degraded, even though each failure alone would imply dead. How many
    sources fail decides nothing (tests/integration/check/test_outage_controls.py)."""
    archive = captured
    before = states(archive)
    hosts = {address.split("/")[2] for address, _ in SCENARIOS.values()}
    hosts.add(CANARY_URL.split("/")[2])
    for host in hosts:
        simweb.dns_failure(host)
    for _ in range(2):
        clock.advance(hours=2)
        reports = archive.check(everything=True)
        assert reports and all(r.degraded for r in reports)
        assert "no control site answered" in (reports[0].degraded_reason or "")
        assert states(archive) == before
