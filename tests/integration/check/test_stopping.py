"""A check batch still probing when the process is told to stop is abandoned at once:
nothing of it is recorded, its run is closed as abandoned with the reason, its claims
are released, and its sources are checked as they were due (docs/web.md, "Stopping
within 10 s")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from archiver.app import Archive
from archiver.check.abandoned import STOPPED
from archiver.config import Settings
from archiver.models import CheckRun, Observation, Source
from tests.integration.check import pages
from tests.simweb import SimulatedWeb, hang

URLS = ["https://rus.azattyq.org/a/one.html", "https://kaztag.kz/ru/news/two"]
MARGIN = 5.0  # the probe budget here is a minute


def test_a_stopping_check_abandons_its_batch(
    simweb: SimulatedWeb, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    for url in URLS:
        simweb.page(url, pages.article(noise=1))
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        network__timeout="60",
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        capture__modes='{default = ["http"]}',
        check__probe_budget="60",
    )
    report = tmp_path / "r.md"
    report.write_text(f"A [^1]. B [^2].\n\n[^1]: {URLS[0]}\n[^2]: {URLS[1]}\n", encoding="utf-8")
    with Archive.open(settings) as archive:
        archive.add(str(report))
        assert all(o.preserved for o in archive.capture())
        for url in URLS:
            simweb.page(url, hang())
        runner = archive.check_runner()
        due = runner.due(everything=True)
        assert len(due) == 2

        async def check_until_stopped() -> tuple[list[object], float]:
            stopping = asyncio.Event()

            async def stop_once_probing() -> None:
                while not all(simweb.hits(u) >= 2 for u in URLS):  # capture, then probe
                    await asyncio.sleep(0.02)
                stopping.set()

            asyncio.get_running_loop().create_task(stop_once_probing())
            reports = await runner.run(due, trigger="daemon", should_stop=stopping.is_set)
            return list(reports), time.monotonic()

        started = time.monotonic()
        reports, ended = asyncio.run(check_until_stopped())
        with archive.db.session() as session:
            runs = list(session.scalars(select(CheckRun)))
            checks = session.scalars(select(Observation).where(Observation.via == "check"))
            observed = list(checks)
            leases = [s.lease_owner for s in session.scalars(select(Source))]
        # Due as before: the next run checks them.
        for url in URLS:
            simweb.page(url, pages.article(noise=1))
        again = archive.check(everything=True)
    assert reports == []
    assert ended - started < MARGIN
    assert [(r.finished_at is not None, r.abandoned_reason, r.checked) for r in runs] == [
        (True, STOPPED, 0)
    ]
    assert observed == [] and leases == [None, None]
    assert sum(len(r.outcomes) for r in again) == 2
