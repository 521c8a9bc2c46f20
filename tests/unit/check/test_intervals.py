"""Adaptive check intervals, back-off and jitter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from archiver.config import CheckSettings
from archiver.schedule.intervals import base_interval, next_check_at

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TABLE = CheckSettings().interval_table()
H = 3600.0


def due(**kw: object) -> datetime:
    args: dict[str, object] = dict(
        now=T0, first_seen=T0, state="live", unseen_in_a_row=0, confirm_at=None,
        table=TABLE, max_backoff=7 * 24 * H, jitter=0.0, random=0.5,
    )  # fmt: skip
    args.update(kw)
    return next_check_at(**args)  # type: ignore[arg-type]


def test_frequent_when_young_slower_later() -> None:
    assert base_interval(0, TABLE) == 3 * H
    assert base_interval(3 * 24 * H, TABLE) == 24 * H
    assert base_interval(40 * 24 * H, TABLE) == 7 * 24 * H
    assert due() == T0 + timedelta(hours=3)
    assert due(first_seen=T0 - timedelta(days=5)) == T0 + timedelta(days=1)


def test_unseen_backs_off_up_to_the_cap() -> None:
    steps = [due(state="unreachable", unseen_in_a_row=n) - T0 for n in range(1, 12)]
    assert steps[0] == timedelta(hours=3)
    assert steps[1] == timedelta(hours=6)
    assert steps == sorted(steps)
    assert steps[-1] == timedelta(days=7)


def test_pending_accusation_checked_when_confirmation_counts() -> None:
    confirm = T0 + timedelta(minutes=30)
    assert due(confirm_at=confirm) == confirm
    later = T0 + timedelta(hours=6)  # longer than the interval: wait for it
    assert due(confirm_at=later) == later


def test_jitter_spreads_within_bounds() -> None:
    low = due(jitter=0.1, random=0.0) - T0
    high = due(jitter=0.1, random=0.999999) - T0
    assert timedelta(hours=2.69) < low < timedelta(hours=2.71)
    assert timedelta(hours=3.29) < high < timedelta(hours=3.31)
