"""What one observation of a source says about it: pure decisions, no I/O.

The capture's first look at a source and every later check end here. Two rules from
DESIGN.md shape this module:

- Trouble on our side (our proxy unreachable, an address our own policy refuses) says
  nothing about the source: it implies no state at all.
- A state that accuses the source (dead, removed, altered, redirected) is only
  *implied* by one observation; the source enters it after a confirming observation
  ``check.confirm_after`` later (the re-check logic). Blocked and unreachable are not
  accusations: they say the source could not be seen, not that it is gone.
"""

from __future__ import annotations

from dataclasses import dataclass

from archiver.capture.exchange import FailureKind

ACCUSING = frozenset({"dead", "removed", "altered", "redirected"})


@dataclass(frozen=True)
class Signal:
    """The state an observation implies (None: it says nothing), and why, in words."""

    implied_state: str | None
    reason: str

    @property
    def accusing(self) -> bool:
        return self.implied_state in ACCUSING


_FAILURE_STATES: dict[FailureKind, str | None] = {
    FailureKind.DNS: "dead",
    FailureKind.REFUSED: "unreachable",
    FailureKind.TIMEOUT: "unreachable",
    FailureKind.RESET: "unreachable",
    FailureKind.TLS: "unreachable",
    FailureKind.PROTOCOL: "unreachable",
    FailureKind.TOO_MANY_REDIRECTS: "unreachable",
    FailureKind.OTHER: "unreachable",
    # Ours, not the source's.
    FailureKind.PROXY: None,
    FailureKind.FORBIDDEN_ADDRESS: None,
    FailureKind.BROWSER: None,
}


def signal_from_response(status: int | None, failure: FailureKind | None) -> Signal:
    """The state implied by the main document's final HTTP status or failure."""
    if failure is not None:
        state = _FAILURE_STATES.get(failure, "unreachable")
        if state is None:
            return Signal(None, f"{failure}: a problem on the archiver's side, not the source's")
        if failure is FailureKind.DNS:
            return Signal(state, "the host name does not resolve")
        return Signal(state, f"no response: {failure}")
    if status is None:
        return Signal("unreachable", "no response")
    if 200 <= status < 300:
        return Signal("live", f"HTTP {status}")
    if status in (404, 410):
        return Signal("dead", f"HTTP {status}: the server says the page is gone")
    if status in (401, 407, 451):
        return Signal("restricted", f"HTTP {status}: exists but not for us")
    if status in (403, 429):
        return Signal("blocked", f"HTTP {status}: our access is refused (not evidence of removal)")
    if 300 <= status < 400:
        return Signal("unreachable", f"HTTP {status} without a usable redirect")
    if status >= 500:
        return Signal("unreachable", f"HTTP {status}: server error")
    return Signal("unreachable", f"HTTP {status}")


def state_after(previous: str, signal: Signal) -> str:
    """The source's state after one unconfirmed observation.

    Non-accusing states apply at once; an accusation waits for confirmation (the
    re-check decides), and an observation that implies nothing changes nothing.
    """
    if signal.implied_state is None or signal.accusing:
        return previous
    return signal.implied_state
