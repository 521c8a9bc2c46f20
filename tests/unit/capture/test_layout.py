"""Where snapshot files go under the storage root."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from archiver.capture.warc import snapshot_relpath
from archiver.errors import WarcError

SNAP = uuid.UUID("0b7e4c1e-2f0a-4f5e-9a53-8c2d1f6e9b10")


def test_path_is_dated_bucketed_and_named_after_source_and_snapshot() -> None:
    path = snapshot_relpath(42, SNAP, datetime(2026, 3, 12, 23, 59, tzinfo=UTC))
    assert path.parts[:4] == ("warcs", "2026", "03", "12")
    assert len(path.parts[4]) == 2 and int(path.parts[4], 16) >= 0
    assert path.name == f"42-{SNAP}.warc.gz"


def test_date_is_the_utc_date() -> None:
    local = timezone(timedelta(hours=6))
    path = snapshot_relpath("s1", SNAP, datetime(2026, 3, 13, 2, 0, tzinfo=local))
    assert path.parts[1:4] == ("2026", "03", "12")


def test_same_inputs_same_path_and_buckets_spread() -> None:
    day = datetime(2026, 1, 1, tzinfo=UTC)
    assert snapshot_relpath(1, SNAP, day) == snapshot_relpath(1, SNAP, day)
    # Time-ordered ids share leading digits; the bucket must still spread them.
    buckets = {snapshot_relpath(1, uuid.UUID(int=n), day).parts[4] for n in range(2000)}
    assert len(buckets) > 200


@pytest.mark.parametrize("source", ["../x", "a/b", "", "x" * 65, "a b"])
def test_unsafe_source_ids_are_refused(source: str) -> None:
    with pytest.raises(WarcError):
        snapshot_relpath(source, SNAP, datetime(2026, 1, 1, tzinfo=UTC))


def test_naive_capture_time_is_refused() -> None:
    with pytest.raises(WarcError):
        snapshot_relpath(1, SNAP, datetime(2026, 1, 1))
