"""The daemon seals what it captures and fetches the stamps in its own loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from archiver.app import Archive
from archiver.models import CustodyEvent, TimestampRecord
from archiver.schedule.daemon import Daemon
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.integrity.package_fixtures import ARTICLE, integrity_settings
from tests.support.httpserver import Response, serve


async def test_daemon_captures_seals_and_stamps(
    tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa
) -> None:
    page = Response(200, ARTICLE, {"Content-Type": "text/html; charset=utf-8"})
    with serve({"/news/1.html": page}) as server:
        settings = integrity_settings(tmp_path / "storage", "", [local_tsa.url])
        with Archive.open(settings, clock=clock) as archive:
            archive.add_bytes(
                f"A claim[1].\n\n[1] {server.url('/news/1.html')}\n".encode(), origin="t"
            )
            daemon = Daemon(archive)
            run = asyncio.create_task(daemon.run())

            def stamped() -> list[tuple[str, str]]:
                with archive.db.session() as session:
                    rows = session.scalars(select(TimestampRecord)).all()
                    return sorted((r.subject_type, r.status) for r in rows)

            try:
                async with asyncio.timeout(60):
                    while ("snapshot", "granted") not in stamped():
                        await asyncio.sleep(0.05)
            finally:
                daemon.request_stop("test over")
                await run
            with archive.db.session() as session:
                actions = list(
                    session.scalars(select(CustodyEvent.action).order_by(CustodyEvent.seq))
                )
            assert actions == ["report_added", "key_created", "capture"]
            assert ("custody_head", "granted") in stamped()
