"""Pure decisions of archiver.platforms on small pages built for each case (the real
pages are in tests/integration/platforms/test_corpus_states.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from archiver.errors import ConfigError
from archiver.platforms import (
    PlatformSignal,
    classify_ytdlp_error,
    extract_metadata,
    extract_post,
    recognize_page,
)
from archiver.platforms.markers import fold, load_markers, parse_markers

WATCH = "https://www.youtube.com/watch?v=abcdefghijk"
POST = "https://www.facebook.com/story.php?story_fbid=1&id=2"


def watch_page(status: str, reason: str | None = None, **extra: Any) -> str:
    playability: dict[str, Any] = {"status": status}
    if reason is not None:
        playability["reason"] = reason
    response = {"playabilityStatus": playability, **extra}
    return f"<html><script>var ytInitialPlayerResponse = {json.dumps(response)};</script></html>"


def youtube(html: str) -> PlatformSignal:
    found = recognize_page(WATCH, WATCH, 200, html)
    assert isinstance(found, PlatformSignal)
    return found


@pytest.mark.parametrize(
    ("status", "reason", "state", "detail"),
    [
        ("OK", None, "live", "available"),
        ("ERROR", "Video unavailable", "removed", "removed"),
        ("ERROR", "Это видео недоступно", "removed", "removed"),
        ("UNPLAYABLE", "This video has been removed by the uploader", "removed", "removed"),
        ("UNPLAYABLE", "Бейне қолжетімді емес", "removed", "removed"),
        ("UNPLAYABLE", "Something new we never saw", "restricted", "unplayable"),
        (
            "UNPLAYABLE",
            "The uploader has not made this video available in your country",
            "restricted",
            "geo_blocked",
        ),
        (
            "UNPLAYABLE",
            "Автор заблокировал показ видео в вашей стране",
            "restricted",
            "geo_blocked",
        ),
        ("LOGIN_REQUIRED", "Sign in to confirm your age", "restricted", "age_restricted"),
        (
            "LOGIN_REQUIRED",
            "Войдите, чтобы подтвердить свой возраст",
            "restricted",
            "age_restricted",
        ),
        ("LOGIN_REQUIRED", "Жасыңызды растау үшін жүйеге кіріңіз", "restricted", "age_restricted"),
        ("LOGIN_REQUIRED", "Private video", "restricted", "private"),
        ("LOGIN_REQUIRED", "Жеке бейне", "restricted", "private"),
        ("LOGIN_REQUIRED", "Sign in to confirm you’re not a bot", "blocked", "bot_check"),
        ("LOGIN_REQUIRED", "Войдите, чтобы подтвердить, что вы не бот", "blocked", "bot_check"),
        ("LOGIN_REQUIRED", None, "restricted", "login_required"),
        ("AGE_CHECK_REQUIRED", None, "restricted", "age_restricted"),
        ("LIVE_STREAM_OFFLINE", "This live event will begin in 3 hours.", "live", "live_offline"),
        ("SOMETHING_NEW", None, None, "unknown"),
    ],
)
def test_youtube_playability(
    status: str, reason: str | None, state: str | None, detail: str
) -> None:
    found = youtube(watch_page(status, reason))
    assert (found.implied_state, found.detail) == (state, detail)
    assert status in found.reason
    if reason:
        assert reason in found.reason


def test_a_bot_check_is_never_removal_even_when_the_video_seems_gone() -> None:
    found = youtube(watch_page("ERROR", "Video unavailable. Sign in to confirm you're not a bot"))
    assert found.implied_state == "blocked"
    assert not found.accusing


def test_youtube_error_screen_and_messages_are_read() -> None:
    response = {
        "playabilityStatus": {
            "status": "LOGIN_REQUIRED",
            "errorScreen": {
                "playerErrorMessageRenderer": {
                    "reason": {"runs": [{"text": "Private "}, {"text": "video"}]}
                }
            },
        }
    }
    html = f"<script>ytInitialPlayerResponse = {json.dumps(response)};</script>"
    assert youtube(html).detail == "private"


def test_older_markup_player_response_inside_player_config() -> None:
    inner = json.dumps({"playabilityStatus": {"status": "ERROR", "reason": "Video unavailable"}})
    html = f"<script>ytplayer.config = {json.dumps({'args': {'player_response': inner}})};</script>"
    assert youtube(html).implied_state == "removed"


def test_live_now_is_live() -> None:
    html = watch_page("OK", videoDetails={"isLive": True, "isLiveContent": True})
    assert youtube(html).detail == "live_now"


def test_youtube_redirects_to_sign_in_or_sorry_page() -> None:
    login = recognize_page(
        WATCH, "https://accounts.google.com/ServiceLogin?continue=x", 200, "<html></html>"
    )
    sorry = recognize_page(
        WATCH, "https://www.google.com/sorry/index?continue=x", 429, "<html></html>"
    )
    assert login is not None and login.implied_state == "restricted"
    assert sorry is not None and sorry.implied_state == "blocked"


def test_pages_of_other_sites_and_server_errors_say_nothing() -> None:
    assert (
        recognize_page(
            "https://rus.azattyq.org/a/1.html",
            "https://rus.azattyq.org/a/1.html",
            200,
            "Video unavailable",
        )
        is None
    )
    assert recognize_page(WATCH, WATCH, 503, watch_page("ERROR", "Video unavailable")) is None


def test_youtube_metadata() -> None:
    html = watch_page(
        "OK",
        videoDetails={
            "videoId": "abcdefghijk",
            "title": "Митинг",
            "shortDescription": "Алматы",
            "lengthSeconds": "61",
            "author": "Kanal",
        },
        microformat={"playerMicroformatRenderer": {"publishDate": "2022-01-05"}},
    )
    meta = extract_metadata(html)
    assert meta is not None
    assert (
        meta.video_id,
        meta.title,
        meta.description,
        meta.duration_seconds,
        meta.channel,
        meta.published,
    ) == (
        "abcdefghijk",
        "Митинг",
        "Алматы",
        61,
        "Kanal",
        "2022-01-05",
    )
    assert extract_metadata("<html>no player</html>") is None


def facebook(html: str, final_url: str = POST) -> PlatformSignal:
    found = recognize_page(POST, final_url, 200, html)
    assert isinstance(found, PlatformSignal)
    return found


POST_HTML = '<html><head><title>Post</title><meta property="og:description" content="Свидетельство"></head><body><div data-ft="{}">x</div></body></html>'


@pytest.mark.parametrize(
    ("body", "state", "detail"),
    [
        (
            "<title>Facebook</title><p>This content isn't available right now</p>",
            "removed",
            "content_unavailable",
        ),
        (
            "<title>Facebook</title><p>Этот контент сейчас недоступен</p>",
            "removed",
            "content_unavailable",
        ),
        (
            "<title>Facebook</title><p>Бұл контент қазір қолжетімді емес</p>",
            "removed",
            "content_unavailable",
        ),
        (
            "<title>Facebook</title><h2>You’re Temporarily Blocked</h2>",
            "blocked",
            "temporarily_blocked",
        ),
        (
            "<title>Facebook</title><h2>Вы временно заблокированы</h2>",
            "blocked",
            "temporarily_blocked",
        ),
        ("<title>Вход на Facebook</title><form></form>", "restricted", "login_wall"),
        ('<title>Facebook</title><form id="login_form"></form>', "restricted", "login_wall"),
        ("<title>Update your browser | Facebook</title>", None, "unsupported_browser"),
    ],
)
def test_facebook_pages(body: str, state: str | None, detail: str) -> None:
    found = facebook(f"<html>{body}</html>")
    assert (found.implied_state, found.detail) == (state, detail)


def test_a_facebook_page_with_nothing_known_is_left_to_the_http_status() -> None:
    page = "<html><title>Group post</title><p>Post text</p></html>"
    assert recognize_page(POST, POST, 200, page) is None


def test_a_post_with_an_unavailable_shared_card_is_live() -> None:
    html = POST_HTML.replace("</body>", "<p>This content isn't available right now</p></body>")
    assert facebook(html).implied_state == "live"


def test_facebook_redirect_to_login_or_checkpoint() -> None:
    page = "<html><title>Facebook</title></html>"
    assert facebook(page, "https://www.facebook.com/login/?next=x").detail == "login_wall"
    checkpoint = facebook(page, "https://www.facebook.com/checkpoint/1501092823525282/")
    assert (checkpoint.implied_state, checkpoint.detail) == ("blocked", "checkpoint")


def test_facebook_post_extraction() -> None:
    html = (
        '<meta property="og:image" content="https://scontent.xx.fbcdn.net/v/t1/p180x540/a.jpg">'
        '<div class="userContent"><p>Митинг &amp; шествие</p></div></div>'
        '<img src="https://scontent.xx.fbcdn.net/v/t1/a_o.jpg?x=1&amp;y=2">'
        '<img src="https://static.xx.fbcdn.net/rsrc.php/v3/icon.png">'
    )
    post = extract_post(html)
    assert post.text == "Митинг & шествие"
    assert post.image_urls == ("https://scontent.xx.fbcdn.net/v/t1/a_o.jpg?x=1&y=2",)


@pytest.mark.parametrize(
    ("message", "state", "detail"),
    [
        (
            "ERROR: [youtube] x: Video unavailable. This video has been removed by the uploader",
            "removed",
            "removed",
        ),
        (
            "ERROR: [youtube] x: This video is no longer available because the YouTube account associated with this video has been terminated.",
            "removed",
            "removed",
        ),
        (
            "ERROR: [youtube] x: Video unavailable. This video is no longer available due to a copyright claim by Someone",
            "removed",
            "removed",
        ),
        (
            "ERROR: [youtube] x: Private video. Sign in if you've been granted access to this video",
            "restricted",
            "private",
        ),
        (
            "ERROR: [youtube] x: Sign in to confirm your age. This video may be inappropriate for some users.",
            "restricted",
            "age_restricted",
        ),
        (
            "ERROR: [youtube] x: Video unavailable. The uploader has not made this video available in your country",
            "restricted",
            "geo_blocked",
        ),
        (
            "ERROR: [youtube] x: Join this channel to get access to members-only content like this video",
            "restricted",
            "members_only",
        ),
        (
            "ERROR: [youtube] x: Sign in to confirm you’re not a bot. This helps protect our community.",
            "blocked",
            "bot_check",
        ),
        (
            "ERROR: [youtube] x: Video unavailable. The content is not available, try again later.",
            "blocked",
            "bot_check",
        ),
        (
            "ERROR: Unable to download webpage: HTTP Error 429: Too Many Requests",
            "blocked",
            "bot_check",
        ),
        (
            "ERROR: [generic] Unable to download webpage: HTTP Error 404: Not Found",
            "dead",
            "removed",
        ),
        (
            "ERROR: [generic] Unable to download webpage: <urlopen error [Errno 111] Connection refused>",
            "unreachable",
            "network",
        ),
        ("ERROR: Unsupported URL: https://example.org/", None, "no_media"),
        ("ERROR: something entirely new", None, "unknown"),
    ],
)
def test_ytdlp_errors(message: str, state: str | None, detail: str) -> None:
    found = classify_ytdlp_error(message)
    assert isinstance(found, PlatformSignal)
    assert (found.implied_state, found.detail) == (state, detail)
    assert message.split(": ", 1)[1] in found.reason


def test_markers_are_folded_and_loaded_once() -> None:
    assert fold("You’re  Temporarily\u00a0BLOCKED") == "you're temporarily blocked"
    assert load_markers() is load_markers()


def test_bad_markers_file_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing table \\[facebook\\]"):
        parse_markers("[youtube.reasons]\nremoved = []\n[ytdlp]\n", "x.toml")
    with pytest.raises(ConfigError, match="must be a list of strings"):
        parse_markers("[youtube.reasons]\nremoved = 'no'\n[facebook.text]\n[ytdlp]\n", "x.toml")
    with pytest.raises(ConfigError, match=r"unknown list youtube\.privat "):
        parse_markers("[youtube.reasons]\nprivat = []\n[facebook.text]\n[ytdlp]\n", "x.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_markers(tmp_path / "missing.toml")
