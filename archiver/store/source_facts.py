"""What is known about a source beyond its state (pure): the accusation waiting for
confirmation, the last capture failure, the baseline, what each snapshot lacks.

"Say what is known, and nothing more" (DESIGN.md): a source whose capture failed is not
"pending", a source one check found gone is "suspected dead, confirming at ...", and a
snapshot without its video says so. These functions turn the stored rows into those
statements; :mod:`archiver.store.status` puts them in the status document, from which
the pages, the CSV and the table are made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archiver.check.signals import ACCUSING


@dataclass(frozen=True)
class Seen:
    """The parts of an observation these decisions read (newest first when in a list)."""

    observed_at: datetime
    via: str
    implied_state: str
    resulting_state: str
    reason: str
    http_status: int | None
    failure_kind: str | None
    snapshot_id: str | None


def suspected(
    state: str,
    history: Sequence[Seen],
    confirm_at: datetime | None,
    iso: Callable[[datetime | None], str | None],
) -> dict[str, Any] | None:
    """The accusation the latest observations make and the source's state does not show
    yet (it waits for a confirming observation), or None.

    ``history``: the source's observations, newest first. ``since`` is the first of the
    latest run of observations pointing to the same state."""
    if not history:
        return None
    latest = history[0]
    implied = latest.implied_state
    if implied not in ACCUSING or implied == state or latest.resulting_state == implied:
        return None
    since = latest.observed_at
    for seen in history[1:]:
        if seen.implied_state != implied:
            break
        since = seen.observed_at
    return {
        "state": implied,
        "reason": latest.reason,
        "since": iso(since),
        "confirm_at": iso(confirm_at),
    }


def last_capture_failure(
    history: Sequence[Seen], iso: Callable[[datetime | None], str | None]
) -> dict[str, Any] | None:
    """The latest capture attempt, when it did not preserve the source (no response, or
    a response that is not 2xx), with its reason; None when it did or none was made."""
    latest = next((seen for seen in history if seen.via == "capture"), None)
    if latest is None:
        return None
    status = latest.http_status
    if latest.failure_kind is None and status is not None and 200 <= status < 300:
        return None
    return {
        "at": iso(latest.observed_at),
        "reason": latest.reason,
        "failure": latest.failure_kind,
        "http_status": status,
        "snapshot_id": latest.snapshot_id,
    }


def is_preserving(http_status: int | None) -> bool:
    return http_status is not None and 200 <= http_status < 300


def baseline_id(snapshots: Sequence[Mapping[str, Any]]) -> str | None:
    """The first preserved snapshot (oldest first in ``snapshots``): always the baseline,
    whatever was captured after it."""
    return next((s["id"] for s in snapshots if is_preserving(s.get("http_status"))), None)


def derived_incomplete(
    methods: Sequence[str],
    http_status: int | None,
    artefact_kinds: Sequence[str],
    media_status: str | None,
    media_error: str | None,
) -> list[dict[str, str]]:
    """For snapshots written before ``incomplete`` was recorded: what is known from the
    row alone (missing browser artefacts of a displayed page; a failed video)."""
    missing = []
    if "browser" in methods and http_status is not None:
        for kind in ("screenshot", "dom", "pdf"):
            if kind not in artefact_kinds:
                missing.append(
                    {"artefact": kind, "reason": "not made (the reason was not recorded)"}
                )
    if media_status == "failed":
        missing.append({"artefact": "video", "reason": media_error or "the download failed"})
    return missing


def preservation_text(source: Mapping[str, Any]) -> str:
    """One line for people: what we hold, what failed, what is suspected."""
    parts = []
    failure = source.get("capture_failure")
    if source.get("preserved"):
        parts.append("preserved")
    elif failure is not None:
        parts.append(f"not preserved: capture failed ({failure['reason']})")
    else:
        parts.append("not captured yet")
    # Issue 18: a public web archive's copy, or whom we asked for one.
    lookup = source.get("witness_lookup")
    if source.get("third_party_statement"):
        parts.append(f"third-party copy: {source['third_party_statement']}")
    elif lookup is not None and lookup["outcome"] != "found":
        parts.append(lookup["message"])
    suspicion = source.get("suspected")
    if suspicion is not None:
        parts.append(
            f"suspected {suspicion['state']} ({suspicion['reason']}), "
            f"confirming at {suspicion['confirm_at'] or 'the next check'}"
        )
    return "; ".join(parts)
