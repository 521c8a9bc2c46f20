"""Re-checks inside ``archiver run``: APScheduler dispatches due checks, a deletion is
confirmed, the operator's webhook hears about it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from archiver.app import Archive
from archiver.config import Settings
from archiver.models import Source, StateTransition
from archiver.schedule.daemon import Daemon
from tests.integration.check import pages
from tests.simweb import SimulatedWeb
from tests.support.sinks import webhook_server

KEPT = "https://rus.azattyq.org/a/kept.html"
DELETED = "https://kaztag.kz/ru/news/deleted"


async def _until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll; the test fails (does not sleep to pass) if the condition never holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached within the timeout")
        await asyncio.sleep(0.05)


def test_daemon_confirms_a_deletion_and_notifies(
    simweb: SimulatedWeb, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    simweb.page(KEPT, pages.rotating())
    simweb.page(DELETED, pages.article(noise=2))
    with webhook_server() as hook:
        settings = make_settings(
            network__proxy=simweb.proxy_url,
            capture__extra_ca_file=str(simweb.ca_pem_path),
            capture__per_host_interval="0",
            capture__modes='{default = ["http"]}',
            check__confirm_after="0",
            check__tick="0.2",
            check__jitter="0",
            check__intervals='{"0" = 3600}',
            notify__webhook_url=hook.url,
            notify__batch_window="0.2",
            daemon__inbox_poll_interval="0.2",
        )
        report = tmp_path / "r.md"
        report.write_text(f"A [^1]. B [^2].\n\n[^1]: {KEPT}\n[^2]: {DELETED}\n", encoding="utf-8")
        with Archive.open(settings) as archive:
            archive.add(str(report))
            assert all(o.preserved for o in archive.capture())
            simweb.remove(DELETED)
            with archive.db.session() as session:
                # Due now (the first check would otherwise wait one interval).
                for source in session.scalars(select(Source)):
                    source.next_check_at = archive.clock()

            def state_of(url: str) -> str:
                with archive.db.session() as session:
                    return session.scalars(select(Source.state).where(Source.url == url)).one()

            async def scenario() -> None:
                daemon = Daemon(archive, capture=False, check=True)
                task = asyncio.create_task(daemon.run())
                try:
                    await _until(lambda: state_of(DELETED) == "dead")
                    await _until(lambda: bool(hook.received))
                finally:
                    daemon.request_stop("test over")
                    await task

            asyncio.run(scenario())
            assert state_of(KEPT) == "live"
            with archive.db.session() as session:
                transition = session.scalars(select(StateTransition)).one()
                assert (transition.from_state, transition.to_state) == ("live", "dead")
                assert len(transition.observation_ids) == 2
            events = [e for doc in hook.received for e in doc["events"]]
            assert [(e["url"], e["to_state"]) for e in events] == [(DELETED, "dead")]
