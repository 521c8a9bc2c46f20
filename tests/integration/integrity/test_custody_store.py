"""The custody log in a real database (SQLite and PostgreSQL): append, verify, tamper."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from archiver.errors import CustodyError, StoreError
from archiver.integrity.custody import (
    GENESIS,
    NewEntry,
    append,
    append_many,
    load_chain,
    verify_stored_chain,
)
from archiver.models import CustodyEvent
from archiver.store.db import Database

T0 = datetime(2026, 1, 2, 3, 4, 5, 654321, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.open(database_url)
    with database.session() as session:
        for n in range(1, 6):
            append(
                session,
                at=T0 + timedelta(seconds=n),
                actor="daemon" if n != 4 else "cli:alice",
                action=["capture", "check", "key_rotated", "export", "download"][n - 1],
                subject_type="snapshot",
                subject_id=f"snap-{n}",
                details={"sha256": f"{n:064x}", "size": n * 1000, "ratio": 0.25, "ok": True},
            )
    yield database
    database.close()


def _sql(db: Database, statement: str, **params: object) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_entries_chain_and_survive_the_round_trip(db: Database) -> None:
    with db.session() as session:
        chain = load_chain(session)
        report = verify_stored_chain(session)
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5]
    assert chain[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(chain))
    assert chain[3].actor == "cli:alice" and chain[3].at == T0 + timedelta(seconds=4)
    assert chain[0].details == {"sha256": f"{1:064x}", "size": 1000, "ratio": 0.25, "ok": True}
    assert report.ok and report.head_hash == chain[-1].entry_hash


def test_append_in_another_zone_hashes_the_same_instant(db: Database) -> None:
    almaty = timezone(timedelta(hours=5))
    with db.session() as session:
        entry = append(
            session,
            at=T0.astimezone(almaty),
            actor="x",
            action="check",
            subject_type="source",
            subject_id="9",
        )
    with db.session() as session:
        assert load_chain(session)[-1] == entry
        assert verify_stored_chain(session).ok


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "mallory"),
        ("action", "delete"),
        ("subject_type", "report"),
        ("subject_id", "snap-x"),
        ("at", datetime(2030, 1, 1)),
        ("prev_hash", "f" * 64),
        ("entry_hash", "e" * 64),
    ],
)
def test_a_changed_column_is_detected(db: Database, column: str, value: object) -> None:
    _sql(db, f"UPDATE custody_events SET {column} = :v WHERE seq = 3", v=value)
    with db.session() as session:
        report = verify_stored_chain(session)
    assert report.first_problem is not None
    assert (report.first_problem.seq, report.first_problem.kind) == (3, "changed")


def test_changed_details_are_detected(db: Database) -> None:
    with db.session() as session:
        row = session.scalars(select(CustodyEvent).where(CustodyEvent.seq == 2)).one()
        row.details = {**row.details, "size": 1}
    with db.session() as session:
        report = verify_stored_chain(session)
    assert report.first_problem is not None
    assert (report.first_problem.seq, report.first_problem.kind) == (2, "changed")


def test_a_deleted_middle_row_is_detected(db: Database) -> None:
    _sql(db, "DELETE FROM custody_events WHERE seq = 3")
    with db.session() as session:
        report = verify_stored_chain(session)
    assert report.first_problem is not None
    assert (report.first_problem.seq, report.first_problem.kind) == (3, "removed")


def test_swapped_rows_are_detected(db: Database) -> None:
    # Swap the positions of entries 2 and 3 (seq is unique: go through a free value).
    _sql(db, "UPDATE custody_events SET seq = 100 WHERE seq = 2")
    _sql(db, "UPDATE custody_events SET seq = 2 WHERE seq = 3")
    _sql(db, "UPDATE custody_events SET seq = 3 WHERE seq = 100")
    with db.session() as session:
        report = verify_stored_chain(session)
    assert not report.ok
    assert report.first_problem is not None
    assert (report.first_problem.seq, report.first_problem.kind) == (2, "reordered")
    assert report.first_problem.message == "entry 2 follows entry 3, not 1"


def test_appending_continues_the_chain_after_a_restart(db: Database, database_url: str) -> None:
    db.close()
    reopened = Database.open(database_url)
    with reopened.session() as session:
        entry = append(
            session,
            at=T0,
            actor="system",
            action="key_created",
            subject_type="key",
            subject_id="ab" * 32,
        )
    assert entry.seq == 6
    with reopened.session() as session:
        assert verify_stored_chain(session).ok
    reopened.close()


def test_a_duplicate_seq_cannot_fork_the_chain(db: Database) -> None:
    with pytest.raises(StoreError), db.session() as session:
        session.add(CustodyEvent(seq=5, at=T0, actor="x", action="x", subject_type="x", subject_id=None, details={}, prev_hash=GENESIS, entry_hash=GENESIS))  # fmt: skip
        session.flush()


def test_details_without_canonical_form_are_refused(db: Database) -> None:
    with pytest.raises(CustodyError), db.session() as session:
        append(
            session,
            at=T0,
            actor="x",
            action="check",
            subject_type="source",
            details={"n": float("nan")},
        )
    with pytest.raises(ValueError, match="naive"), db.session() as session:
        append(session, at=datetime(2026, 1, 1), actor="x", action="check", subject_type="source")
    with db.session() as session:
        assert len(load_chain(session)) == 5


def test_append_many_chains_exactly_as_appending_one_by_one(database_url: str) -> None:
    """The batch form (used when a capture run seals its snapshots) gives the same
    entries, hashes and links as one append per entry, continuing the stored chain."""
    details = [{"n": n, "sha256": f"{n:064x}"} for n in range(3)]
    batch = [NewEntry("capture", "snapshot", f"snap-{n}", d) for n, d in enumerate(details)]
    one_by_one = Database.open(database_url)
    with one_by_one.session() as session:
        append(session, at=T0, actor="a", action="key_created", subject_type="key")
        for new in batch:
            append(session, at=T0, actor="cli:bob", action=new.action,
                   subject_type=new.subject_type, subject_id=new.subject_id,
                   details=new.details)  # fmt: skip
    with one_by_one.session() as session:
        expected = load_chain(session)
        _sql(one_by_one, "DELETE FROM custody_events")
    one_by_one.close()
    batched = Database.open(database_url)
    with batched.session() as session:
        append(session, at=T0, actor="a", action="key_created", subject_type="key")
        returned = append_many(session, batch, at=T0, actor="cli:bob")
        assert append_many(session, [], at=T0, actor="cli:bob") == []
    with batched.session() as session:
        stored = load_chain(session)
        report = verify_stored_chain(session)
    batched.close()
    assert stored == expected
    assert returned == stored[1:]
    assert [e.seq for e in stored] == [1, 2, 3, 4]
    assert report.ok and report.head_hash == expected[-1].entry_hash
