"""The state machine: accusations need confirmation, unseen never becomes dead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from archiver.check.machine import Policy, Seen, decide

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = Policy(confirm_after=6 * 3600)


def seen(hours: float, state: str | None, *, degraded: bool = False) -> Seen:
    return Seen(T0 + timedelta(hours=hours), state, f"saw {state}", degraded=degraded)


@pytest.mark.parametrize("accusation", ["dead", "removed", "altered", "redirected"])
def test_accusation_waits_for_confirmation(accusation: str) -> None:
    first = decide("live", [], seen(0, accusation), POLICY)
    assert first.state == "live"
    assert first.pending == accusation
    assert first.confirm_at == T0 + timedelta(hours=6)
    too_soon = decide("live", [seen(0, accusation)], seen(5, accusation), POLICY)
    assert too_soon.state == "live" and too_soon.pending == accusation
    confirmed = decide("live", [seen(0, accusation)], seen(6, accusation), POLICY)
    assert confirmed.state == accusation
    assert [e.at for e in confirmed.evidence] == [T0, T0 + timedelta(hours=6)]


def test_contradiction_resets_confirmation() -> None:
    history = [seen(0, "dead"), seen(3, "live")]
    decision = decide("live", history, seen(7, "dead"), POLICY)
    assert decision.state == "live"
    assert decision.confirm_at == T0 + timedelta(hours=13)


def test_unseen_between_neither_confirms_nor_contradicts() -> None:
    history = [seen(0, "dead"), seen(3, "unreachable"), seen(4, "blocked"), seen(5, None)]
    assert decide("live", history, seen(7, "dead"), POLICY).state == "dead"
    assert decide("live", [seen(0, "unreachable")], seen(7, "dead"), POLICY).state == "live"


def test_other_accusation_does_not_confirm() -> None:
    assert decide("live", [seen(0, "removed")], seen(7, "dead"), POLICY).state == "live"


def test_degraded_observations_change_nothing_and_never_confirm() -> None:
    assert decide("live", [], seen(0, "dead", degraded=True), POLICY).state == "live"
    history = [seen(0, "dead", degraded=True)]
    assert decide("live", history, seen(7, "dead"), POLICY).pending == "dead"


def test_unseen_never_becomes_dead() -> None:
    history = [seen(h, "unreachable") for h in range(0, 24 * 30, 6)]
    state = "live"
    for h in range(24 * 30, 24 * 60, 6):
        decision = decide(state, history, seen(h, "unreachable"), POLICY)
        state = decision.state
        history.append(seen(h, "unreachable"))
    assert state == "unreachable"


def test_unseen_keeps_accusation_and_restriction() -> None:
    for previous in ("dead", "removed", "altered", "redirected", "restricted"):
        assert decide(previous, [], seen(0, "unreachable"), POLICY).state == previous
        assert decide(previous, [], seen(0, "blocked"), POLICY).state == previous


def test_non_accusing_states_apply_at_once() -> None:
    assert decide("dead", [], seen(0, "live"), POLICY).state == "live"
    assert decide("live", [], seen(0, "restricted"), POLICY).state == "restricted"
    assert decide("live", [], seen(0, "blocked"), POLICY).state == "blocked"
    assert decide("pending", [], seen(0, "unreachable"), POLICY).state == "unreachable"


def test_silent_observation_changes_nothing() -> None:
    decision = decide("live", [], seen(0, None), POLICY)
    assert decision.state == "live" and not decision.changed and decision.evidence == ()


def test_zero_confirm_after_still_needs_two_observations() -> None:
    policy = Policy(confirm_after=0)
    assert decide("live", [], seen(0, "dead"), policy).state == "live"
    assert decide("live", [seen(0, "dead")], seen(0, "dead"), policy).state == "dead"
