"""The outage guard: our network is judged from control probes and the resolver, never
from how many of one report's sources fail (archiver.check.outage, archiver.check.controls)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from archiver.capture.exchange import FailureKind
from archiver.check.controls import ControlProbes
from archiver.check.outage import (
    CanarySeen,
    ControlRound,
    OutagePolicy,
    ResolverSeen,
    judge_batch,
)

POLICY = OutagePolicy(failure_share=0.6, min_sites=5)
GOOGLE = "https://www.google.com/generate_204"
CLOUDFLARE = "https://www.cloudflare.com/cdn-cgi/trace"


def report_001() -> list[tuple[str, FailureKind | None]]:
    """Report 001 re-checked: 118 sources, 78 on sites whose names no longer resolve,
    40 plain 404s (HTTP answers: no failure)."""
    gone = [(f"site{i}.kz", FailureKind.DNS) for i in range(78)]
    answered: list[tuple[str, FailureKind | None]] = [("kaztag.kz", None)] * 40
    return gone + answered


def up(moment: str = "start") -> ControlRound:
    return ControlRound(moment, (CanarySeen(GOOGLE, 204, None), CanarySeen(CLOUDFLARE, 200, None)))


def test_many_dead_sites_with_canaries_answering_is_not_an_outage() -> None:
    judgement = judge_batch(report_001(), POLICY, [up("start"), up("end")])
    assert not judgement.degraded
    assert judgement.basis == "canaries"
    assert judgement.failed == 78 and judgement.total == 118


def test_one_canary_answering_is_enough() -> None:
    half = ControlRound(
        "start", (CanarySeen(GOOGLE, None, FailureKind.TIMEOUT), CanarySeen(CLOUDFLARE, 403, None))
    )
    assert not judge_batch(report_001(), POLICY, [half, up("end")]).degraded


def test_no_canary_answering_is_our_outage_whatever_the_sources_say() -> None:
    down = ControlRound(
        "end",
        (CanarySeen(GOOGLE, None, FailureKind.DNS), CanarySeen(CLOUDFLARE, None, FailureKind.DNS)),
    )
    # Every source answered (404s and 200s), yet the control sites did not: degraded.
    answered: list[tuple[str, FailureKind | None]] = [("kaztag.kz", None)] * 10
    judgement = judge_batch(answered, POLICY, [up("start"), down])
    assert judgement.degraded
    assert judgement.reason.startswith("no control site answered at the end of the batch")
    assert f"{GOOGLE}: dns" in judgement.reason and "our network is down" in judgement.reason
    assert [c["answered"] for c in judgement.controls["canaries"]] == [True, True, False, False]


def test_proxy_down_is_named() -> None:
    down = ControlRound("start", (CanarySeen(GOOGLE, None, FailureKind.PROXY),))
    judgement = judge_batch([("a.kz", FailureKind.PROXY)], POLICY, [down, up("end")])
    assert judgement.degraded and judgement.reason.endswith("our proxy is unreachable")


def test_a_5xx_from_a_canary_is_no_answer() -> None:
    gateway = ControlRound("start", (CanarySeen(GOOGLE, 502, None),))
    assert judge_batch([], POLICY, [gateway]).degraded


def test_resolver_answering_for_no_canary_is_our_outage() -> None:
    silent = ControlRound("start", up().canaries, ResolverSeen(("www.google.com",), ()))
    judgement = judge_batch(report_001(), POLICY, [silent])
    assert judgement.degraded and judgement.reason.startswith("our resolver gave no address")
    fine = ControlRound(
        "start", up().canaries, ResolverSeen(("www.google.com",), ("www.google.com",))
    )
    assert not judge_batch(report_001(), POLICY, [fine]).degraded


def test_without_canaries_the_share_rule_is_a_labelled_guess() -> None:
    judgement = judge_batch(report_001(), POLICY)
    assert judgement.degraded and judgement.basis == "guess"
    assert judgement.reason.startswith("no control sites configured (check.canary_urls)")
    assert "78 of 118 checks failed" in judgement.reason
    proxy = judge_batch([("a.kz", FailureKind.PROXY), ("b.kz", None)], POLICY)
    assert proxy.degraded and proxy.reason.endswith("our proxy is unreachable")
    few = judge_batch([("a.kz", FailureKind.DNS), ("b.kz", None)], POLICY)
    assert not few.degraded and few.basis == "guess"


def _probes(
    answers: dict[str, CanarySeen], resolves: Sequence[str], *, here: bool
) -> ControlProbes:
    asked: list[str] = []

    async def fetch(url: str) -> CanarySeen:
        if url not in answers:
            raise RuntimeError("boom")
        return answers[url]

    async def resolver(name: str, port: int) -> list[str]:
        asked.append(name)
        if name not in resolves:
            raise OSError(-2, "Name or service not known")
        return ["192.0.2.1"]

    probes = ControlProbes(
        [GOOGLE, CLOUDFLARE, "https://192.0.2.7/x"], fetch, resolve_here=here, resolver=resolver
    )
    probes.asked = asked  # type: ignore[attr-defined]
    return probes


def test_control_probes_ask_the_resolver_only_where_names_are_resolved_here() -> None:
    answers = {GOOGLE: CanarySeen(GOOGLE, 204, None), CLOUDFLARE: CanarySeen(CLOUDFLARE, 200, None)}
    direct = _probes(answers, ["www.cloudflare.com"], here=True)
    seen = asyncio.run(direct.look("start"))
    # IP-address canaries need no resolver; a canary that raised counts as failed.
    assert direct.asked == ["www.google.com", "www.cloudflare.com"]  # type: ignore[attr-defined]
    assert seen.resolver == ResolverSeen(
        ("www.google.com", "www.cloudflare.com"), ("www.cloudflare.com",)
    )
    assert seen.canaries[2] == CanarySeen("https://192.0.2.7/x", None, FailureKind.OTHER)
    assert seen.problem() is None

    broken = _probes(answers, [], here=True)
    assert (asyncio.run(broken.look("end")).problem() or "").startswith("our resolver")

    proxied = _probes(answers, [], here=False)
    through = asyncio.run(proxied.look("start"))
    assert through.resolver is None and through.problem() is None
    assert proxied.asked == []  # type: ignore[attr-defined]
