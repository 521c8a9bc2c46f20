"""Hash chain verification, pure: every kind of tampering is detected and named."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from archiver.integrity.custody import GENESIS, CustodyEntry, entry_hash, verify_chain

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def _chain(n: int = 5) -> list[CustodyEntry]:
    entries: list[CustodyEntry] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        entry = CustodyEntry(
            seq=seq,
            at=T0 + timedelta(minutes=seq),
            actor="daemon",
            action="capture" if seq % 2 else "check",
            subject_type="snapshot",
            subject_id=f"s{seq}",
            details={"sha256": "ab" * 32, "n": seq, "note": "Ünïcode"},
            prev_hash=prev,
        )
        entry = dataclasses.replace(entry, entry_hash=entry_hash(entry))
        entries.append(entry)
        prev = entry.entry_hash
    return entries


def test_an_intact_chain_verifies() -> None:
    chain = _chain()
    report = verify_chain(chain)
    assert report.ok and report.entries == 5 and report.first_problem is None
    assert report.head_hash == chain[-1].entry_hash
    assert verify_chain([]).ok and verify_chain([]).head_hash == GENESIS


def test_the_hash_is_of_the_canonical_entry() -> None:
    entry = _chain(1)[0]
    assert entry.prev_hash == GENESIS
    assert len(entry.entry_hash) == 64
    # Same data, different dict order: same hash.
    reordered = dataclasses.replace(entry, details=dict(reversed(list(entry.details.items()))))
    assert entry_hash(reordered) == entry.entry_hash


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("at", T0 + timedelta(hours=9)),
        ("actor", "mallory"),
        ("action", "export"),
        ("subject_type", "source"),
        ("subject_id", "s99"),
        ("subject_id", None),
        ("details", {"sha256": "cd" * 32, "n": 3, "note": "Ünïcode"}),
        ("prev_hash", "f" * 64),
        ("entry_hash", "e" * 64),
    ],
)
def test_any_changed_field_is_detected_at_that_entry(name: str, value: Any) -> None:
    chain = _chain()
    chain[2] = dataclasses.replace(chain[2], **{name: value})
    report = verify_chain(chain)
    assert not report.ok
    assert report.first_problem is not None
    assert (report.first_problem.seq, report.first_problem.kind) == (3, "changed")


def test_changed_seq_is_detected() -> None:
    chain = _chain()
    chain[2] = dataclasses.replace(chain[2], seq=7)
    report = verify_chain(chain)
    assert report.first_problem is not None and report.first_problem.seq in (3, 7)


def test_a_rewritten_entry_with_a_recomputed_hash_is_named() -> None:
    chain = _chain()
    forged = dataclasses.replace(chain[2], actor="mallory")
    chain[2] = dataclasses.replace(forged, entry_hash=entry_hash(forged))
    report = verify_chain(chain)
    assert report.first_problem is not None
    assert (report.first_problem.seq, report.first_problem.kind) == (3, "changed")
    assert "rewritten" in report.first_problem.message


def test_a_removed_middle_entry_is_named() -> None:
    chain = _chain()
    del chain[2]
    report = verify_chain(chain)
    assert report.first_problem is not None
    assert (report.first_problem.seq, report.first_problem.kind) == (3, "removed")
    assert report.first_problem.message == "entry 3 removed before entry 4"


def test_removed_first_entries_are_named() -> None:
    report = verify_chain(_chain()[2:])
    assert report.first_problem is not None
    assert (report.first_problem.seq, report.first_problem.kind) == (1, "removed")
    assert "entries 1-2" in report.first_problem.message


def test_swapped_entries_are_named_as_reordered() -> None:
    chain = _chain()
    chain[1], chain[2] = chain[2], chain[1]
    report = verify_chain(chain)
    assert report.first_problem is not None
    assert report.first_problem.kind == "reordered"
    assert report.first_problem.seq == 3
    assert report.first_problem.message == "entry 3 follows entry 2, not 1"


def test_entries_cut_off_the_end_need_the_anchored_head() -> None:
    chain = _chain()
    anchored = verify_chain(chain).head_hash
    truncated = verify_chain(chain[:-1])
    assert truncated.ok  # the chain alone cannot tell...
    assert truncated.head_hash != anchored  # ...but the anchored head can.
