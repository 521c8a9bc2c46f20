"""Platform sources compared field by field (archiver.check.fields): pure functions."""

from __future__ import annotations

from archiver.check.classify import (
    Baseline,
    ClassifyPolicy,
    NotFoundProfile,
    PlatformSeen,
    ProbeResult,
)
from archiver.check.fields import baseline_fields, classify_platform, compare_fields
from archiver.check.signals import Signal
from archiver.platforms import classify_ytdlp_error

VIDEO = {"title": "Detention in Almaty", "description": "Filmed on 3 May.", "duration": 337}
POLICY = ClassifyPolicy()
URL = "https://www.youtube.com/watch?v=abc"


def probe(seen: PlatformSeen, status: int = 200, html: str | None = None) -> ProbeResult:
    return ProbeResult(URL, URL, status, None, html=html, platform=seen)


def test_unchanged_fields_are_live_whatever_the_spacing() -> None:
    seen = {**VIDEO, "title": "  Detention   in Almaty ", "duration": 337.4}
    verdict = compare_fields("youtube", VIDEO, seen)
    assert verdict is not None
    assert verdict.signal.implied_state == "live"
    assert verdict.similarity == 1.0
    assert verdict.details["changed"] == []


def test_a_changed_title_is_altered_with_a_readable_diff() -> None:
    verdict = compare_fields("youtube", VIDEO, {**VIDEO, "title": "Protest in Almaty"})
    assert verdict is not None
    assert verdict.signal.implied_state == "altered"
    assert verdict.diff == ("- title: Detention in Almaty", "+ title: Protest in Almaty")
    assert verdict.similarity is not None and verdict.similarity < 1.0
    assert "title" in verdict.signal.reason


def test_digits_count_in_a_post_and_a_duration_change_counts() -> None:
    post = compare_fields(
        "facebook", {"text": "5 people detained."}, {"text": "50 people detained."}
    )
    assert post is not None and post.signal.implied_state == "altered"
    assert post.diff == ("- text: 5 people detained.", "+ text: 50 people detained.")
    cut = compare_fields("youtube", VIDEO, {**VIDEO, "duration": 120.0})
    assert cut is not None and cut.diff == ("- duration: 337", "+ duration: 120")


def test_fields_missing_on_either_side_are_not_compared() -> None:
    assert compare_fields("youtube", {"title": "a"}, {"description": "b"}) is None
    verdict = compare_fields("youtube", VIDEO, {"title": VIDEO["title"], "description": None})
    assert verdict is not None and verdict.details["compared"] == ["title"]


def test_baseline_fields_prefer_ytdlp_summary_then_the_page() -> None:
    extracted = {
        "title": "Page title",
        "description": "Page description",
        "duration_seconds": 10,
        "media": {"title": "yt-dlp title", "duration": 11},
    }
    assert baseline_fields("youtube", extracted) == {
        "title": "yt-dlp title",
        "description": "Page description",
        "duration": 11,
    }
    assert baseline_fields("facebook", {"text": "A post", "image_urls": []}) == {"text": "A post"}
    assert baseline_fields("facebook", {"text": None}) == {}
    assert baseline_fields("youtube", None) == {}


def test_a_bot_check_is_blocked_never_removed() -> None:
    signal = classify_ytdlp_error(
        "ERROR: [youtube] abc: Video unavailable. Sign in to confirm you’re not a bot"
    )
    seen = PlatformSeen("youtube", {}, signal)
    verdict = classify_platform(probe(seen), seen, VIDEO, None, None, None, POLICY)
    assert verdict.signal.implied_state == "blocked"


def test_the_platform_verdict_wins_over_the_fields() -> None:
    signal = classify_ytdlp_error("ERROR: [youtube] abc: Video unavailable")
    seen = PlatformSeen("youtube", VIDEO, signal)
    verdict = classify_platform(probe(seen), seen, VIDEO, None, None, None, POLICY)
    assert verdict.signal.implied_state == "removed"


def test_the_page_still_decides_status_and_walls_before_the_fields() -> None:
    seen = PlatformSeen("facebook", {"text": "A post"})
    gone = classify_platform(probe(seen, status=404), seen, {"text": "x"}, None, None, None, POLICY)
    assert gone.signal.implied_state == "dead"
    wall = Signal("restricted", "Facebook login form")
    login = classify_platform(
        probe(seen, html="<p/>"), seen, {"text": "x"}, None, None, wall, POLICY
    )
    assert login.signal.implied_state == "restricted"


def test_fields_decide_without_asking_for_the_hosts_not_found_page() -> None:
    seen = PlatformSeen("facebook", {"text": "Edited post"})
    verdict = classify_platform(
        probe(seen, html="<p>Edited post</p>"), seen, {"text": "A post"}, None, None, None, POLICY
    )
    assert verdict.signal.implied_state == "altered"
    assert not verdict.wants_not_found_profile


def test_without_baseline_fields_a_page_is_compared_by_its_main_text() -> None:
    seen = PlatformSeen("facebook", {})
    html = "<html><body><p>" + "Completely different words here. " * 20 + "</p></body></html>"
    page = Baseline("snap", "the original post text about a detention " * 10, None, URL)
    soft = NotFoundProfile("www.youtube.com", 404, None, "")
    verdict = classify_platform(probe(seen, html=html), seen, {}, page, soft, None, POLICY)
    assert verdict.signal.implied_state == "altered"
    # A yt-dlp answer has no page: nothing to compare, the answer itself is live.
    yt = PlatformSeen("youtube", {"title": "x"})
    verdict = classify_platform(probe(yt), yt, {}, page, soft, None, POLICY)
    assert verdict.signal.implied_state == "live"
