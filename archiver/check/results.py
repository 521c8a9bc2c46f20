"""What a check run reports: one outcome per source, one report per batch; and the
platform recogniser used by default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archiver.check.classify import Recognizer, Verdict, no_recognizer


def default_recognizer() -> Recognizer:
    """The platforms module's recogniser when it is installed, else one that knows
    nothing (issue 4 provides ``archiver.platforms.recognize_page``)."""
    try:
        from archiver.platforms import recognize_page  # type: ignore[import-not-found,attr-defined,unused-ignore]
    except ImportError:
        return no_recognizer
    found: Recognizer = recognize_page
    return found


@dataclass(frozen=True)
class CheckOutcome:
    source_id: int
    url: str
    state_before: str
    state_after: str
    implied_state: str | None
    reason: str
    http_status: int | None = None
    failure: str | None = None
    similarity: float | None = None
    pending: str | None = None
    degraded: bool = False
    snapshot_id: str | None = None
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.state_before != self.state_after


@dataclass
class RunReport:
    run_id: int
    degraded: bool
    degraded_reason: str | None
    outcomes: list[CheckOutcome] = field(default_factory=list)

    @property
    def changed(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if o.changed]


def change_event(outcome: CheckOutcome, platform: str, verdict: Verdict | None) -> dict[str, Any]:
    """A state change as the notification outbox carries it: the changed sentences
    (``diff``) and the changed numbers, dates and names quoted as written (``changes``,
    archiver.check.figures) of the check that made it."""
    diff = [] if verdict is None else list(verdict.diff)
    found = None if verdict is None else verdict.details.get("changes")
    changes = list(found) if isinstance(found, list) else []
    return {
        "source_id": outcome.source_id,
        "url": outcome.url,
        "platform": platform,
        "from_state": outcome.state_before,
        "to_state": outcome.state_after,
        "reason": outcome.reason,
        "similarity": outcome.similarity,
        "diff": diff[:20],
        "changes": changes[:20],
        "snapshot_id": outcome.snapshot_id,
    }
