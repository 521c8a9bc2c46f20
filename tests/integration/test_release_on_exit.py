"""A process cut off at its stop deadline (``archiver run``'s last resort) releases the
claims its runners still hold on the way out, and only those: its sources are free at
once for the next start, another process's claims stay."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from archiver.models import Source
from archiver.store.db import Database
from archiver.store.leases import Claims, new_owner, release_this_process
from tests.conftest import FixedClock


def test_release_this_process_clears_only_this_process_claims(
    tmp_path: Path, clock: FixedClock
) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with db.session() as session:
            for n in range(6):
                session.add(
                    Source(
                        url=f"https://example.kz/{n}",
                        url_sha256=f"{n:064x}",
                        platform="news",
                        kind="article",
                        state_since=clock(),
                        first_seen_at=clock(),
                    )
                )
        with db.session() as session:
            ids = list(session.scalars(select(Source.id).order_by(Source.id)))
        # Two runners of this process (a capture and a check), and another process.
        capture = Claims(db, clock=clock, lease=300)
        check = Claims(db, clock=clock, lease=300)
        other = Claims(db, clock=clock, lease=300, owner="elsewhere:4242:0123456789ab")
        assert capture.claim(ids[0:2]) == set(ids[0:2])
        assert check.claim(ids[2:4]) == set(ids[2:4])
        assert other.claim(ids[4:5]) == {ids[4]}
        assert capture.owner.rsplit(":", 1)[0] == new_owner().rsplit(":", 1)[0]

        release_this_process(db)

        with db.session() as session:
            owners = dict(session.execute(select(Source.id, Source.lease_owner)).all())
            until = dict(session.execute(select(Source.id, Source.lease_until)).all())
        assert [owners[i] for i in ids] == [None, None, None, None, other.owner, None]
        assert [until[i] is None for i in ids] == [True] * 4 + [False, True]
    finally:
        db.close()
