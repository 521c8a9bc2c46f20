"""The network-outage guard: is a batch's bad news about the sources, or about us?

When the archiver's own network is down, every source looks dead or unreachable at
once. Two signs say the fault is ours (DESIGN.md), and then the batch is *degraded*: its
observations are kept as a record, but no source changes state and none of them counts
as confirmation later.

- Our proxy is unreachable (any probe failed with ``FailureKind.PROXY``).
- Most of the batch failed with network errors, spread over many unrelated hosts.
  Unrelated: counted by site (``www.`` and ``m.`` folded), so one site's many
  sub-domains going down is that site's problem, not ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archiver.capture.exchange import FailureKind
from archiver.net.sites import site_of_host

NETWORK_FAILURES = frozenset(
    {
        FailureKind.DNS,
        FailureKind.REFUSED,
        FailureKind.TIMEOUT,
        FailureKind.RESET,
        FailureKind.TLS,
        FailureKind.PROXY,
    }
)


@dataclass(frozen=True)
class OutagePolicy:
    # Share of probes failing with network errors that makes a batch suspect...
    failure_share: float = 0.6
    # ...when the failures span at least this many unrelated sites.
    min_sites: int = 5


@dataclass(frozen=True)
class BatchJudgement:
    degraded: bool
    reason: str
    failed: int = 0
    total: int = 0


def judge_batch(
    results: Sequence[tuple[str, FailureKind | None]], policy: OutagePolicy
) -> BatchJudgement:
    """``results``: (host, failure or None) for every probe of the batch."""
    total = len(results)
    if any(failure is FailureKind.PROXY for _, failure in results):
        return BatchJudgement(True, "our proxy is unreachable", total=total)
    failed_sites = {site_of_host(h) for h, f in results if f in NETWORK_FAILURES}
    failed = sum(1 for _, f in results if f in NETWORK_FAILURES)
    if total and failed / total >= policy.failure_share and len(failed_sites) >= policy.min_sites:
        return BatchJudgement(
            True,
            f"{failed} of {total} checks failed with network errors across "
            f"{len(failed_sites)} unrelated sites: our network is probably down",
            failed,
            total,
        )
    return BatchJudgement(False, "ok", failed, total)
