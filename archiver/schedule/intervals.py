"""When a source is checked next: a pure function of its age, its state and the policy.

- Frequent in the first days after a source is cited (that is when posts get deleted),
  slower later: ``check.intervals`` maps an age to an interval.
- An unconfirmed accusation is checked again as soon as the confirmation counts
  (``confirm_after`` after the first sighting).
- Blocked and unreachable sources back off: the interval doubles with every such check
  in a row, up to ``check.max_backoff``.
- Jitter: each time moves by up to ``check.jitter`` of its interval, drawn from an
  injectable random number, so checks of one host do not come in bursts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

UNSEEN = frozenset({"blocked", "unreachable"})


def base_interval(age_seconds: float, table: Sequence[tuple[float, float]]) -> float:
    """The interval for a source this old; ``table`` is (age, interval), youngest first."""
    interval = table[0][1]
    for age, every in table:
        if age_seconds >= age:
            interval = every
    return interval


def next_check_at(
    *,
    now: datetime,
    first_seen: datetime,
    state: str,
    unseen_in_a_row: int,
    confirm_at: datetime | None,
    table: Sequence[tuple[float, float]],
    max_backoff: float,
    jitter: float,
    random: float,
) -> datetime:
    """``random`` is a number in [0, 1); ``jitter`` a share of the interval."""
    interval = base_interval(max(0.0, (now - first_seen).total_seconds()), table)
    if state in UNSEEN and unseen_in_a_row > 0:
        interval = min(max(interval, interval * 2 ** min(unseen_in_a_row - 1, 30)), max_backoff)
        interval = max(interval, base_interval(0, table))
    spread = interval * jitter * (2 * random - 1)
    due = now + timedelta(seconds=interval + spread)
    if confirm_at is not None:
        # An accusation waits for its confirmation: checked when the confirmation can
        # count (never before, not an interval later).
        due = max(confirm_at + timedelta(seconds=abs(spread) * 0.01), now)
    return due
