"""The custody log: an append-only, hash-chained record of everything done to evidence.

Every capture, check, export, download and key change is one entry with its actor and
time. Each entry's ``entry_hash`` is the sha256 of the RFC 8785 canonical JSON of the
entry (``seq``, ``at``, ``actor``, ``action``, ``subject_type``, ``subject_id``,
``details``, ``prev_hash``), and ``prev_hash`` is the previous entry's ``entry_hash``
(64 zeros for the first). So editing any field, deleting an entry or swapping two
breaks a hash or a link that :func:`verify_chain` points at by ``seq``.

What a chain alone cannot show: entries cut off the *end*. So the chain is anchored
outside it: every signed manifest records the position (``seq`` and hash) it was sealed
at (:func:`chain_end`), and signed custody heads are kept in the database and as files
under the storage root (:mod:`.anchors`); ``archiver verify --store`` fails when the
log is shorter than any anchor or no longer has an anchored hash.

Hashing is pure (:func:`entry_hash`, :func:`verify_chain` take plain
:class:`CustodyEntry` values); :func:`append` and :func:`load_chain` are the database
edge.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from archiver.errors import CanonicalizationError, CustodyError
from archiver.integrity.canonical import canonical_json
from archiver.integrity.manifest import utc_text
from archiver.models import CustodyEvent
from archiver.store.db import insert_rows

GENESIS = "0" * 64
# Serialises appends across workers on PostgreSQL (SQLite has one writer anyway).
_PG_CUSTODY_LOCK = 0x63757374


@dataclass(frozen=True)
class CustodyEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str | None
    details: Mapping[str, Any]
    prev_hash: str
    entry_hash: str = ""

    @classmethod
    def from_row(cls, row: CustodyEvent) -> CustodyEntry:
        return cls(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            details=row.details,
            prev_hash=row.prev_hash,
            entry_hash=row.entry_hash,
        )


def entry_hash(entry: CustodyEntry) -> str:
    """sha256 of the canonical JSON of every field except ``entry_hash`` itself."""
    return hashlib.sha256(entry_bytes(entry)).hexdigest()


def entry_bytes(entry: CustodyEntry) -> bytes:
    """The exact bytes an entry's hash is taken of (exports carry them as files)."""
    document = {
        "seq": entry.seq,
        "at": utc_text(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }
    return canonical_json(document)


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    # "changed": the entry no longer matches its hash (or a later link to it);
    # "removed": entries before this one are missing; "reordered": it links to an
    # entry that is not its predecessor.
    kind: str
    message: str


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_hash: str
    problems: tuple[ChainProblem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> ChainProblem | None:
        return self.problems[0] if self.problems else None


def verify_chain(entries: Sequence[CustodyEntry]) -> ChainReport:
    """Check hashes and links in the order given (normally by ``seq``)."""
    problems: list[ChainProblem] = []
    by_hash = {e.entry_hash: e for e in entries}

    def report(seq: int, kind: str, message: str) -> None:
        if not any(p.seq == seq and p.kind == kind for p in problems):
            problems.append(ChainProblem(seq, kind, message))

    previous: CustodyEntry | None = None
    for entry in entries:
        expected_seq = 1 if previous is None else previous.seq + 1
        expected_prev = GENESIS if previous is None else previous.entry_hash
        linked = by_hash.get(entry.prev_hash)
        try:
            intact = entry_hash(entry) == entry.entry_hash
        except (CanonicalizationError, ValueError):
            intact = False
        if entry.prev_hash != expected_prev and linked is not None and linked is not entry:
            report(
                entry.seq,
                "reordered",
                f"entry {entry.seq} follows entry {linked.seq}, not "
                f"{'the start' if previous is None else previous.seq}",
            )
        elif not intact:
            report(entry.seq, "changed", f"entry {entry.seq} does not match its hash")
        elif entry.prev_hash != expected_prev and entry.seq > expected_seq:
            missing = (
                f"entry {expected_seq}"
                if entry.seq == expected_seq + 1
                else f"entries {expected_seq}-{entry.seq - 1}"
            )
            report(expected_seq, "removed", f"{missing} removed before entry {entry.seq}")
        elif entry.prev_hash != expected_prev:
            # This entry is intact but its predecessor was rewritten (hash recomputed).
            assert previous is not None
            report(
                previous.seq,
                "changed",
                f"entry {previous.seq} was rewritten: entry {entry.seq} links to another hash",
            )
        elif entry.seq != expected_seq:
            report(entry.seq, "reordered", f"entry {entry.seq} is out of sequence")
        previous = entry
    head = entries[-1].entry_hash if entries else GENESIS
    return ChainReport(len(entries), head, tuple(problems))


def append(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> CustodyEntry:
    """Add one entry at the end of the chain, in the caller's transaction.

    Two transactions appending at once cannot both succeed with the same ``seq`` (it
    is unique); on PostgreSQL an advisory lock makes the second wait instead of fail.
    """
    new = NewEntry(action, subject_type, subject_id, dict(details or {}))
    return append_many(session, [new], at=at, actor=actor)[0]


@dataclass(frozen=True)
class NewEntry:
    """What :func:`append_many` adds: one entry's fields before it is chained."""

    action: str
    subject_type: str
    subject_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def append_many(
    session: Session, entries: Sequence[NewEntry], *, at: datetime, actor: str
) -> list[CustodyEntry]:
    """Add ``entries`` at the end of the chain in order, in the caller's transaction:
    the same entries, hashes and links as calling :func:`append` for each, with one
    look-up of the chain's end and one bulk insert instead of two queries and a flush
    per entry (a capture run seals its snapshots in batches)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given; use an aware UTC datetime")
    if not entries:
        return []
    seq, prev_hash = chain_end(session)
    chained: list[CustodyEntry] = []
    for new in entries:
        seq += 1
        entry = CustodyEntry(
            seq=seq,
            at=at,
            actor=actor,
            action=new.action,
            subject_type=new.subject_type,
            subject_id=new.subject_id,
            details=dict(new.details),
            prev_hash=prev_hash,
        )
        try:
            digest = entry_hash(entry)
        except CanonicalizationError as exc:
            raise CustodyError(f"custody details have no canonical JSON form: {exc}") from exc
        chained.append(CustodyEntry(**{**entry.__dict__, "entry_hash": digest}))
        prev_hash = digest
    insert_rows(
        session,
        CustodyEvent,
        [
            dict(
                seq=e.seq,
                at=e.at,
                actor=e.actor,
                action=e.action,
                subject_type=e.subject_type,
                subject_id=e.subject_id,
                details=dict(e.details),
                prev_hash=e.prev_hash,
                entry_hash=e.entry_hash,
            )
            for e in chained
        ],
    )
    return chained


def chain_end(session: Session) -> tuple[int, str]:
    """``(seq, entry_hash)`` of the last entry (``(0, GENESIS)`` for an empty log), read
    under the append lock: in the caller's transaction, nothing can be appended between
    this and the caller's own appends (a seal records it as the position it was made at).
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CUSTODY_LOCK})
    elif dialect == "sqlite":
        # SQLite's Python driver opens the transaction at the first write, not at this
        # read: two appends at once (two screenshots shown on one page) read the same end
        # and the second failed on the unique seq. A write that changes nothing takes the
        # database's write lock first (the other waits, busy_timeout), as BEGIN IMMEDIATE.
        session.execute(text("UPDATE custody_events SET seq = seq WHERE 0"))
    last_seq = session.scalar(select(func.max(CustodyEvent.seq)))
    if last_seq is None:
        return 0, GENESIS
    last_hash = session.scalars(
        select(CustodyEvent.entry_hash).where(CustodyEvent.seq == last_seq)
    ).one()
    return int(last_seq), str(last_hash)


def load_chain(session: Session) -> list[CustodyEntry]:
    rows = session.scalars(select(CustodyEvent).order_by(CustodyEvent.seq)).all()
    return [CustodyEntry.from_row(row) for row in rows]


def verify_stored_chain(session: Session) -> ChainReport:
    return verify_chain(load_chain(session))
