"""Plain-text and JSON views of check results, for the CLI and the logs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from archiver.check.runner import CheckOutcome, RunReport


def outcome_json(outcome: CheckOutcome) -> dict[str, Any]:
    return {
        "source_id": outcome.source_id,
        "url": outcome.url,
        "state_before": outcome.state_before,
        "state": outcome.state_after,
        "implied_state": outcome.implied_state,
        "pending": outcome.pending,
        "http_status": outcome.http_status,
        "failure": outcome.failure,
        "similarity": outcome.similarity,
        "degraded": outcome.degraded,
        "snapshot_id": outcome.snapshot_id,
        "reason": outcome.reason,
        "error": outcome.error,
    }


def summary_text(reports: Sequence[RunReport]) -> str:
    """Counts by state, every change, every unconfirmed accusation, degraded runs."""
    outcomes = [o for r in reports for o in r.outcomes]
    if not outcomes:
        return "nothing to check: no captured source is due"
    states = Counter(o.state_after for o in outcomes)
    lines = [
        f"checked {len(outcomes)} sources: "
        + ", ".join(f"{state} {n}" for state, n in sorted(states.items()))
    ]
    for report in reports:
        if report.degraded:
            lines.append(
                f"DEGRADED run {report.run_id}: {report.degraded_reason}; "
                "no source changed state (our network, not the sources)"
            )
    for o in outcomes:
        if o.changed:
            extra = f" (new snapshot {o.snapshot_id})" if o.snapshot_id else ""
            lines.append(
                f"changed: {o.url}: {o.state_before} -> {o.state_after}{extra}: {o.reason}"
            )
    for o in outcomes:
        if o.pending and not o.degraded:
            lines.append(f"to confirm: {o.url}: looks {o.pending} ({o.reason})")
    lines.extend(f"error: source {o.source_id} ({o.url}): {o.error}" for o in outcomes if o.error)
    return "\n".join(lines)
