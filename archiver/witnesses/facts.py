"""What the status document says about third-party copies and lookups.

A third-party copy is listed among a source's snapshots (``kind: "third_party"``, with
the archive, the memento URL and its datetime) and never makes the source
``preserved``: that word means a snapshot of ours. A source whose only copy is an
archive's is ``preserved_by_third_party``, a count of its own in the summary. The
latest lookup is shown too, so a source with no copy says whom we asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiver.models import LiveWitness, ThirdPartyCopy, WitnessLookup


@dataclass
class WitnessFacts:
    copies: dict[str, dict[str, Any]] = field(default_factory=dict)
    lookups: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Snapshot id -> independent witnesses asked after it (Save Page Now).
    live: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def load_facts(
    session: Session,
    source_ids: Sequence[int],
    iso: Callable[[datetime | None], str | None] = _iso,
) -> WitnessFacts:
    facts = WitnessFacts()
    if not source_ids:
        return facts
    for copy in session.scalars(
        select(ThirdPartyCopy).where(ThirdPartyCopy.source_id.in_(source_ids))
    ):
        facts.copies[copy.snapshot_id] = {
            "archive": copy.archive,
            "memento_url": copy.memento_url,
            "memento_datetime": iso(copy.memento_datetime),
            "raw_url": copy.raw_url,
            "original_status": copy.original_status,
            "retrieved_at": iso(copy.retrieved_at),
            "target_at": iso(copy.target_at),
            "target_basis": copy.target_basis,
        }
    latest = (
        select(func.max(WitnessLookup.id))
        .where(WitnessLookup.source_id.in_(source_ids))
        .group_by(WitnessLookup.source_id)
    )
    for lookup in session.scalars(select(WitnessLookup).where(WitnessLookup.id.in_(latest))):
        facts.lookups[lookup.source_id] = {
            "asked_at": iso(lookup.asked_at),
            "outcome": lookup.outcome,
            "message": lookup.message,
            "archives": lookup.archives,
            "snapshot_id": lookup.snapshot_id,
        }
    for row in session.scalars(
        select(LiveWitness).where(LiveWitness.source_id.in_(source_ids)).order_by(LiveWitness.id)
    ):
        facts.live.setdefault(row.snapshot_id, []).append(
            {
                "service": row.service,
                "status": row.status,
                "memento_url": row.memento_url,
                "memento_datetime": iso(row.memento_datetime),
                "attempts": row.attempts,
                "last_error": row.last_error,
                "similarity": row.similarity,
                "comparison": row.comparison,
                "compared_at": iso(row.compared_at),
            }
        )
    return facts


def annotate(status: dict[str, Any], facts: WitnessFacts) -> dict[str, Any]:
    """Add ``kind`` (and the copy's fields) to every snapshot, and to every source
    ``preserved_by_third_party``, ``third_party_copy`` (its latest) and
    ``witness_lookup``; the summary gets ``preserved_by_third_party``."""
    count = 0
    for source in status["sources"]:
        latest = None
        for snapshot in source["snapshots"]:
            copy = facts.copies.get(snapshot["id"])
            snapshot["kind"] = "third_party" if copy is not None else "own"
            snapshot["witnesses"] = facts.live.get(snapshot["id"], [])
            if copy is not None:
                snapshot.update(copy)
                snapshot["statement"] = copy_text(snapshot)
                latest = snapshot["id"]
        by_third_party = latest is not None and not source["preserved"]
        source["preserved_by_third_party"] = by_third_party
        source["third_party_copy"] = latest
        source["witness_lookup"] = facts.lookups.get(source["id"])
        if by_third_party:
            copy = next(s for s in source["snapshots"] if s["id"] == latest)
            source["third_party_statement"] = copy["statement"]
        count += by_third_party
    status["summary"]["preserved_by_third_party"] = count
    return status


def copy_text(snapshot: dict[str, Any]) -> str:
    """ "copy held by web.archive.org, captured 2022-10-05 14:02 UTC; retrieved by us on
    2026-01-02 03:04 UTC": what pages and certificates say of a third-party copy."""

    def minute(value: str | None) -> str:
        return "an unknown time" if not value else value.replace("T", " ")[:16] + " UTC"

    return (
        f"copy held by {snapshot.get('archive')}, captured "
        f"{minute(snapshot.get('memento_datetime'))}; retrieved by us on "
        f"{minute(snapshot.get('retrieved_at'))}"
    )


def snapshot_witnesses(session: Session, snapshot_id: str) -> list[dict[str, Any]]:
    """The independent copies made after a snapshot (for its certificate)."""
    rows = session.scalars(
        select(LiveWitness).where(LiveWitness.snapshot_id == snapshot_id).order_by(LiveWitness.id)
    )
    return [
        {
            "service": row.service,
            "status": row.status,
            "memento_url": row.memento_url,
            "memento_datetime": _iso(row.memento_datetime),
            "comparison": row.comparison,
        }
        for row in rows
    ]
