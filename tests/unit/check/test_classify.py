"""Pure classification of one probe: soft 404s, home and login redirects, similarity."""

from __future__ import annotations

import pytest

from archiver.capture.exchange import FailureKind
from archiver.check import text as texts
from archiver.check.classify import (
    Baseline,
    ClassifyPolicy,
    NotFoundProfile,
    ProbeResult,
    classify,
    is_home_page,
    is_login_page,
)
from archiver.check.outage import OutagePolicy, judge_batch
from archiver.check.signals import Signal
from tests.integration.check import pages

URL = "https://news.kz/a/1.html"
POLICY = ClassifyPolicy()


def probe(html: str, *, status: int = 200, final: str = URL) -> ProbeResult:
    return ProbeResult(URL, final, status, None, html=html)


def baseline(html: str) -> Baseline:
    return Baseline("snap-1", texts.normalize(texts.main_text(html)), "abc", URL)


def profile(html: str, status: int = 200) -> NotFoundProfile:
    return NotFoundProfile("news.kz", status, None, texts.normalize(texts.main_text(html)))


def test_rotating_noise_is_not_alteration() -> None:
    base = baseline(pages.article(noise=1))
    for noise in range(2, 30, 7):
        verdict = classify(probe(pages.article(noise=noise)), base, None, None, POLICY)
        assert verdict.signal.implied_state == "live"
        assert verdict.similarity == 1.0


def test_small_edit_is_live_a_rewrite_is_altered_with_a_diff() -> None:
    base = baseline(pages.with_typo())
    fixed = classify(probe(pages.article()), base, None, None, POLICY)
    assert fixed.signal.implied_state == "live" and fixed.similarity is not None
    assert 0.9 <= fixed.similarity < 1
    rewritten = classify(probe(pages.paragraph_rewritten()), base, None, None, POLICY)
    assert rewritten.signal.implied_state == "altered"
    assert any(pages.REWRITTEN.split(",")[0] in line for line in rewritten.diff)
    assert any(line.startswith("- ") for line in rewritten.diff)


def test_soft_404_matches_the_hosts_not_found_page() -> None:
    verdict = classify(
        probe(pages.NOT_FOUND), baseline(pages.article()), profile(pages.NOT_FOUND), None, POLICY
    )
    assert verdict.signal.implied_state == "removed"
    # A host whose unknown URLs answer 404 has no soft-404 page to match.
    hard = classify(
        probe(pages.NOT_FOUND),
        baseline(pages.article()),
        profile(pages.NOT_FOUND, 404),
        None,
        POLICY,
    )
    assert hard.signal.implied_state == "altered"


def test_altered_page_without_profile_asks_for_one() -> None:
    verdict = classify(probe(pages.other_article()), baseline(pages.article()), None, None, POLICY)
    assert verdict.wants_not_found_profile


def test_redirects() -> None:
    assert is_home_page(URL, "https://www.news.kz/")
    assert not is_home_page("https://news.kz/", "https://news.kz/")
    assert not is_home_page(URL, "https://other.kz/")
    assert is_login_page("https://social.kz/login?next=/p/1", None)
    assert is_login_page("https://social.kz/x", pages.LOGIN)
    home = classify(probe(pages.HOME, final="https://news.kz/"), None, None, None, POLICY)
    assert home.signal.implied_state == "redirected"
    login = classify(
        probe(pages.LOGIN, final="https://news.kz/accounts/login/"), None, None, None, POLICY
    )
    assert login.signal.implied_state == "restricted"
    moved = classify(
        probe(pages.article(), final="https://news.kz/a/1.html/"),
        baseline(pages.article()),
        None,
        None,
        POLICY,
    )
    assert moved.signal.implied_state == "live"


@pytest.mark.parametrize(
    ("status", "failure", "state"),
    [
        (404, None, "dead"),
        (410, None, "dead"),
        (403, None, "blocked"),
        (429, None, "blocked"),
        (451, None, "restricted"),
        (503, None, "unreachable"),
        (None, FailureKind.TIMEOUT, "unreachable"),
        (None, FailureKind.DNS, "dead"),
        (None, FailureKind.PROXY, None),
    ],
)
def test_status_and_failures(status: int | None, failure: FailureKind | None, state: str) -> None:
    result = ProbeResult(URL, URL, status, failure)
    assert classify(result, None, None, None, POLICY).signal.implied_state == state


def test_platform_signal_wins_over_status() -> None:
    removed = Signal("removed", "YouTube: video unavailable")
    assert classify(probe("<html></html>"), None, None, removed, POLICY).signal == removed


def test_outage_guard() -> None:
    policy = OutagePolicy(failure_share=0.6, min_sites=5)
    hosts = [f"www.site{i}.kz" for i in range(10)]
    down = judge_batch(
        [(h, FailureKind.DNS) for h in hosts[:8]] + [(h, None) for h in hosts[8:]], policy
    )
    assert down.degraded
    # Many failures on one site (its sub-domains) is that site's problem.
    one_site = judge_batch([(f"s{i}.site.kz", FailureKind.TIMEOUT) for i in range(10)], policy)
    assert not one_site.degraded
    # A few failing hosts in a healthy batch is news about those hosts.
    few = judge_batch(
        [(h, FailureKind.DNS) for h in hosts[:3]] + [(h, None) for h in hosts[3:]], policy
    )
    assert not few.degraded
    assert judge_batch([("a.kz", FailureKind.PROXY)], policy).degraded
    # HTTP answers (404s) are not network failures, however many.
    assert not judge_batch([(h, None) for h in hosts], policy).degraded


def test_normalize_removes_counters_dates_times() -> None:
    a = texts.normalize("Updated Monday, 3 October 2024, 10:15. Views: 1037")
    b = texts.normalize("Updated  Friday, 28 November 2025, 23:59. Views: 99")
    assert a == b
