"""The network-outage guard: is a batch's bad news about the sources, or about us?

When the archiver's own network is down, every source looks dead or unreachable at
once. DESIGN.md: judge that from control probes and the resolver, never from how many of
one report's sources fail (a report may cite many dead sites). So while a batch is
checked, :mod:`archiver.check.controls` fetches a few highly available sites (the
*canaries*, ``check.canary_urls``) through the same network path as the checks, and,
where names are resolved here, asks our resolver for their names. The batch is
*degraded* when, at its start or at its end,

- no canary answered (no HTTP answer below 500 from any of them), or
- our resolver answered for none of the canaries' names (when it is used at all).

Otherwise every failure is the source's own: a name that does not resolve, twice and
``confirm_after`` apart, is dead, however many of the batch's sources share that fate.
A degraded batch keeps its observations as a record, but no source changes state and
none of them counts as confirmation later.

With ``check.canary_urls`` empty there is nothing to judge our network by. What is left
is what the old guard did, and it is a guess, labelled as one in the reason: a probe
that could not reach our own proxy, or at least ``check.outage_failure_share`` of the
batch failing with network errors across ``check.outage_min_sites`` unrelated sites
(``www.``/``m.`` folded). That guess freezes real failures when a report cites many
dead sites, which is why the canaries are on by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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
    # Used only without canaries: share of probes failing with network errors that
    # makes a batch suspect...
    failure_share: float = 0.6
    # ...when the failures span at least this many unrelated sites.
    min_sites: int = 5


@dataclass(frozen=True)
class CanarySeen:
    """One fetch of one control site."""

    url: str
    status: int | None
    failure: FailureKind | None

    @property
    def answered(self) -> bool:
        """An HTTP answer from the site itself (a proxy's error page is a failure, and a
        5xx may be a gateway's): our network reaches the web."""
        return self.failure is None and self.status is not None and self.status < 500

    def describe(self) -> str:
        if self.failure is not None:
            return f"{self.url}: {self.failure}"
        return f"{self.url}: HTTP {self.status}"


@dataclass(frozen=True)
class ResolverSeen:
    """Our resolver asked for the canaries' names: those it gave addresses for."""

    names: tuple[str, ...]
    resolved: tuple[str, ...]

    @property
    def answered(self) -> bool:
        return bool(self.resolved)


@dataclass(frozen=True)
class ControlRound:
    """The control probes of one moment of a batch (its start, its end)."""

    moment: str
    canaries: tuple[CanarySeen, ...]
    # None: not asked (names are resolved by the proxy, or no canary has a name).
    resolver: ResolverSeen | None = None

    def problem(self) -> str | None:
        """Why this round says our own network was down, or None."""
        if not any(c.answered for c in self.canaries):
            seen = "; ".join(c.describe() for c in self.canaries)
            ours = (
                "our proxy is unreachable"
                if all(c.failure is FailureKind.PROXY for c in self.canaries)
                else "our network is down"
            )
            return f"no control site answered at the {self.moment} of the batch ({seen}): {ours}"
        if self.resolver is not None and not self.resolver.answered:
            names = ", ".join(self.resolver.names)
            return (
                f"our resolver gave no address for any control site at the {self.moment} "
                f"of the batch ({names}): name failures say nothing about the sources"
            )
        return None

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {
                "moment": self.moment,
                "url": c.url,
                "status": c.status,
                "failure": None if c.failure is None else str(c.failure),
                "answered": c.answered,
            }
            for c in self.canaries
        ]


@dataclass(frozen=True)
class BatchJudgement:
    degraded: bool
    reason: str
    failed: int = 0
    total: int = 0
    # "canaries": judged from control probes; "guess": no canaries configured.
    basis: str = "canaries"
    controls: dict[str, Any] = field(default_factory=dict)


def judge_batch(
    results: Sequence[tuple[str, FailureKind | None]],
    policy: OutagePolicy,
    rounds: Sequence[ControlRound] = (),
) -> BatchJudgement:
    """``results``: (host, failure or None) for every probe of the batch; ``rounds``:
    the control probes taken during it (none: no canaries are configured)."""
    total = len(results)
    failed = sum(1 for _, f in results if f in NETWORK_FAILURES)
    if rounds:
        controls = _controls_json(rounds)
        for control in rounds:
            problem = control.problem()
            if problem is not None:
                return BatchJudgement(True, problem, failed, total, "canaries", controls)
        return BatchJudgement(
            False, "ok: control sites answered", failed, total, "canaries", controls
        )
    return _guess(results, policy, failed, total)


def _controls_json(rounds: Sequence[ControlRound]) -> dict[str, Any]:
    resolver = [
        {"moment": r.moment, "names": list(r.resolver.names), "resolved": list(r.resolver.resolved)}
        for r in rounds
        if r.resolver is not None
    ]
    return {
        "basis": "canaries",
        "canaries": [c for r in rounds for c in r.as_json()],
        "resolver": resolver or None,
    }


def _guess(
    results: Sequence[tuple[str, FailureKind | None]], policy: OutagePolicy, failed: int, total: int
) -> BatchJudgement:
    controls: dict[str, Any] = {"basis": "guess", "canaries": [], "resolver": None}
    prefix = "no control sites configured (check.canary_urls), guessed from the batch itself: "
    if any(failure is FailureKind.PROXY for _, failure in results):
        reason = prefix + "our proxy is unreachable"
        return BatchJudgement(True, reason, failed, total, "guess", controls)
    failed_sites = {site_of_host(h) for h, f in results if f in NETWORK_FAILURES}
    if total and failed / total >= policy.failure_share and len(failed_sites) >= policy.min_sites:
        reason = prefix + (
            f"{failed} of {total} checks failed with network errors across "
            f"{len(failed_sites)} unrelated sites: our network is probably down"
        )
        return BatchJudgement(True, reason, failed, total, "guess", controls)
    return BatchJudgement(
        False, "ok (no control sites configured)", failed, total, "guess", controls
    )
