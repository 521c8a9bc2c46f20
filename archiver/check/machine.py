"""The source state machine: a pure function of the previous state, the history, the new
observation and the policy.

Rules (DESIGN.md, issue 5):

- An observation that implies nothing (our own network failed, the batch was degraded)
  changes nothing.
- A state that accuses the source (dead, removed, altered, redirected) is entered only
  when a second observation, at least ``confirm_after`` after the first, implies the same
  state, with nothing contradicting it in between. Observations that could not see the
  source (blocked, unreachable) neither confirm nor contradict.
- Blocked and unreachable say the source could not be seen: they never turn into dead on
  their own, and they do not wipe an accusation or a restriction already established.
- Any other non-accusing state (live, restricted) applies at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from archiver.check.signals import ACCUSING

# Observations that say the source could not be seen (not what it is).
UNSEEN = frozenset({"blocked", "unreachable"})


@dataclass(frozen=True)
class Seen:
    """One observation as the state machine sees it."""

    at: datetime
    implied_state: str | None
    reason: str
    observation_id: int | None = None
    # Taken during a degraded run (our network was down): never evidence.
    degraded: bool = False


@dataclass(frozen=True)
class Policy:
    confirm_after: float  # seconds


@dataclass(frozen=True)
class Decision:
    """What one observation does to a source.

    ``evidence`` holds the observations that justify a transition (the first accusing
    observation and its confirmation, or the single observation for a state that applies
    at once); empty when nothing changed. ``pending`` names an accusation seen but not yet
    confirmed, with the earliest time a confirming check counts (``confirm_at``).
    """

    previous: str
    state: str
    reason: str
    evidence: tuple[Seen, ...] = ()
    pending: str | None = None
    confirm_at: datetime | None = None

    @property
    def changed(self) -> bool:
        return self.state != self.previous


def decide(previous: str, history: Sequence[Seen], new: Seen, policy: Policy) -> Decision:
    """The source's state after ``new``, given earlier observations (any order)."""
    implied = new.implied_state
    if new.degraded:
        return Decision(previous, previous, "degraded run: our network was down, no change")
    if implied is None:
        return Decision(previous, previous, f"no evidence about the source ({new.reason})")
    if implied == previous:
        return Decision(previous, previous, new.reason)
    if implied in UNSEEN and (previous in ACCUSING or previous == "restricted"):
        return Decision(previous, previous, f"could not be seen, state kept ({new.reason})")
    if implied not in ACCUSING:
        return Decision(previous, implied, new.reason, evidence=(new,))
    run = _accusing_run(history, new)
    first = run[0] if run else new
    confirm_at = first.at + timedelta(seconds=policy.confirm_after)
    if run and new.at >= confirm_at:
        why = f"{new.reason}; confirmed: first seen {first.at.isoformat()}"
        return Decision(previous, implied, why, evidence=(*run, new))
    return Decision(
        previous,
        previous,
        f"{implied} not yet confirmed ({new.reason})",
        pending=implied,
        confirm_at=confirm_at,
    )


def _accusing_run(history: Sequence[Seen], new: Seen) -> list[Seen]:
    """Earlier observations implying the same accusation as ``new``, back to the last
    one that contradicted it (oldest first). Unseen, silent and degraded ones are
    skipped: they neither confirm nor contradict."""
    run: list[Seen] = []
    earlier = sorted((s for s in history if s.at <= new.at and s is not new), key=lambda s: s.at)
    for seen in reversed(earlier):
        if seen.degraded or seen.implied_state is None or seen.implied_state in UNSEEN:
            continue
        if seen.implied_state != new.implied_state:
            break
        run.append(seen)
    run.reverse()
    return run
