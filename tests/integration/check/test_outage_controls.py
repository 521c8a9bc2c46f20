"""The outage guard judges our network from control probes, never from how many of one
report's sources fail (the "truthful states" issue).

A report that cites many dead sites must not look like our outage: 30 sources whose
names no longer resolve, 6 deleted pages and 6 unchanged ones, with the control site
answering, end as 36 dead and 6 live. With our network down (the simulated web
stopped, or only the control site failing) nothing changes state, and the degraded run
is shown on the front page and in /healthz, not only in logs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from archiver.app import Archive
from archiver.config import Settings
from archiver.models import CheckRun, Source, StateTransition
from archiver.web import create_app
from archiver.web.tokens import Role, create_token
from tests.conftest import FixedClock
from tests.integration.check import pages
from tests.simweb import CANARY_URL, SimulatedWeb

UNRESOLVED = [f"https://outlet{i}-sim.kz/news/{i}" for i in range(30)]
DELETED = [f"https://kaztag-sim.kz/ru/news/{i}" for i in range(6)]
UNCHANGED = [f"https://azattyq-sim.kz/a/{i}.html" for i in range(6)]
ALL = UNRESOLVED + DELETED + UNCHANGED
CANARY_HOST = CANARY_URL.split("/")[2]


@pytest.fixture
def captured(
    simweb: SimulatedWeb,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> Iterator[Archive]:
    for address in UNRESOLVED + DELETED:
        simweb.page(address, pages.article(noise=1))
    for address in UNCHANGED:
        simweb.page(address, pages.rotating())
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        network__timeout="3",
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        capture__modes='{default = ["http"]}',
        check__confirm_after="0",
        check__jitter="0",
        check__canary_urls=f'["{CANARY_URL}"]',
    )
    report = tmp_path / "digest.txt"
    claims = [f"Claim {i}[{i}]." for i in range(1, len(ALL) + 1)]
    notes = [f"[{i}]{address}" for i, address in enumerate(ALL, 1)]
    report.write_text("Digest\n\n" + "\n".join(claims) + "\n\n" + "\n".join(notes) + "\n")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        outcomes = archive.capture()
        assert len(outcomes) == len(ALL) and all(o.preserved for o in outcomes)
        # What happened to the sources since: most of them vanished.
        for address in UNRESOLVED:
            simweb.dns_failure(address.split("/")[2])
        for address in DELETED:
            simweb.remove(address)
        yield archive


def states(archive: Archive) -> dict[str, str]:
    with archive.db.session() as session:
        return {url: state for url, state in session.execute(select(Source.url, Source.state))}


def check_twice(archive: Archive, clock: FixedClock) -> list[bool]:
    degraded = []
    for _ in range(2):
        clock.advance(hours=4)
        reports = archive.check(everything=True)
        assert sum(len(r.outcomes) for r in reports) == len(ALL)
        degraded.extend(r.degraded for r in reports)
    return degraded


def test_a_report_citing_many_dead_sites_is_not_an_outage(
    captured: Archive, clock: FixedClock
) -> None:
    assert check_twice(captured, clock) == [False, False]
    final = states(captured)
    assert {u: final[u] for u in UNRESOLVED + DELETED} == dict.fromkeys(
        UNRESOLVED + DELETED, "dead"
    )
    assert {u: final[u] for u in UNCHANGED} == dict.fromkeys(UNCHANGED, "live")
    with captured.db.session() as session:
        runs = session.scalars(select(CheckRun)).all()
        assert runs and not any(r.degraded for r in runs)
        # Each run says what it judged our network by.
        controls = runs[-1].summary["controls"]
        assert controls["basis"] == "canaries"
        assert [c["url"] for c in controls["canaries"]] == [CANARY_URL, CANARY_URL]
        assert all(c["answered"] for c in controls["canaries"])


async def _front_page_and_health(archive: Archive) -> tuple[str, dict[str, object]]:
    _, token = create_token(archive.db, name="monitor", role=Role.VIEWER, clock=archive.clock)
    app = create_app(archive, archive.settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        health = (await client.get("/healthz")).json()
        login = await client.post("/login", data={"token": token, "next": "/"})
        assert login.status_code == 303
        page = await client.get("/")
        assert page.status_code == 200
        return page.text, health


def _assert_degraded_everywhere(archive: Archive, before: dict[str, str], why: str) -> None:
    assert states(archive) == before
    with archive.db.session() as session:
        assert session.scalars(select(StateTransition)).first() is None
        runs = session.scalars(select(CheckRun).order_by(CheckRun.id)).all()
        assert len(runs) == 2 and all(r.degraded for r in runs)
        assert all(why in (r.degraded_reason or "") for r in runs), [
            r.degraded_reason for r in runs
        ]
        last = runs[-1]
    page, health = asyncio.run(_front_page_and_health(archive))
    assert "degraded" in page.lower()
    assert why in page
    assert f"{len(ALL)} sources checked, none changed state" in page
    assert health["status"] == "degraded"
    checks = health["checks"]
    assert isinstance(checks, dict)
    assert checks["last_run_degraded"] is True
    latest = checks["last_degraded_run"]
    assert isinstance(latest, dict)
    assert latest["run_id"] == last.id
    assert latest["untouched"] == len(ALL)
    assert why in str(latest["reason"])
    assert checks["degraded_runs_24h"] == 2


def test_our_network_down_changes_nothing_and_is_shown(
    captured: Archive, simweb: SimulatedWeb, clock: FixedClock
) -> None:
    before = states(captured)
    simweb.offline()
    try:
        assert check_twice(captured, clock) == [True, True]
    finally:
        simweb.online()
    _assert_degraded_everywhere(captured, before, "our proxy is unreachable")


def test_control_site_failing_changes_nothing(
    captured: Archive, simweb: SimulatedWeb, clock: FixedClock
) -> None:
    """Our resolver (the proxy's) stopped answering: the control site fails like the
    30 vanished names. The deleted pages still answer 404, but while the control probe
    fails nothing is judged: the batch is degraded."""
    before = states(captured)
    simweb.dns_failure(CANARY_HOST)
    assert check_twice(captured, clock) == [True, True]
    _assert_degraded_everywhere(captured, before, "no control site answered")


def test_check_all_includes_captured_sources_still_pending(
    simweb: SimulatedWeb,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """A source whose capture already saw it gone stays pending (the accusation waits
    for confirmation): ``check --all`` (and the due checks) must still look at it."""
    kept, vanished = UNCHANGED[0], DELETED[0]
    simweb.page(kept, pages.rotating())
    simweb.host(vanished.split("/")[2])  # the site is up, the page is not there
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        capture__modes='{default = ["http"]}',
        check__confirm_after="0",
        check__jitter="0",
    )
    report = tmp_path / "r.md"
    report.write_text(f"A [^1]. B [^2].\n\n[^1]: {kept}\n[^2]: {vanished}\n", encoding="utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        archive.capture()
        assert states(archive) == {kept: "live", vanished: "pending"}
        clock.advance(minutes=5)
        first = archive.check(everything=True)
        assert {o.url for r in first for o in r.outcomes} == {kept, vanished}
        assert states(archive)[vanished] == "dead"
        # A source never captured is the capture's, not the check's.
        (tmp_path / "r2.md").write_text("C [^1].\n\n[^1]: https://later-sim.kz/x\n")
        archive.add(str(tmp_path / "r2.md"))
        clock.advance(minutes=5)
        again = archive.check(everything=True)
        assert {o.url for r in again for o in r.outcomes} == {kept, vanished}
