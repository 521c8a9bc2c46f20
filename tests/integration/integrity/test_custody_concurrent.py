"""Appends to the custody log from several threads at once, on a real SQLite file.
Finding: two screenshots shown on one source page (two requests at once) made the
second custody entry fail with "UNIQUE constraint failed: custody_events.seq" and the
screenshot answer 500: both appends had read the same end of the chain."""

from __future__ import annotations

import threading
from pathlib import Path

from archiver.app import Archive
from archiver.config import Settings
from archiver.integrity import custody
from archiver.models import CustodyEvent
from tests.conftest import FixedClock

THREADS = 4
EACH = 25


def test_appends_at_once_all_land_in_one_unbroken_chain(tmp_path: Path, clock: FixedClock) -> None:
    settings = Settings.model_validate({"storage": {"root": str(tmp_path)}})
    errors: list[BaseException] = []
    with Archive.open(settings, clock=clock) as archive:
        with archive.db.session() as session:
            before = session.query(CustodyEvent).count()
        barrier = threading.Barrier(THREADS)

        def append_some(n: int) -> None:
            barrier.wait()
            for i in range(EACH):
                try:
                    with archive.db.session() as session:
                        custody.append(
                            session,
                            at=clock(),
                            actor=f"web:viewer-{n}",
                            action="download",
                            subject_type="snapshot",
                            subject_id=f"{n}-{i}",
                        )
                except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                    errors.append(exc)

        threads = [threading.Thread(target=append_some, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with archive.db.session() as session:
            rows = session.query(CustodyEvent).order_by(CustodyEvent.seq).all()
            entries = [custody.CustodyEntry.from_row(r) for r in rows]
        assert [e.seq for e in entries] == list(range(1, before + THREADS * EACH + 1))
        assert custody.verify_chain(entries).problems == ()
