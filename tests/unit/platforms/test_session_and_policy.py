"""Operator session files, redaction helpers, the platform policy and how a platform
verdict combines with the HTTP status: pure parts of the platform capture."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from archiver.capture.exchange import Body, Exchange
from archiver.capture.media import LIVE_NOW, metadata_options, ytdlp_options
from archiver.capture.platform_step import combined_signal, scrub_exchanges
from archiver.capture.policy import platform_steps
from archiver.capture.session import SessionSecrets, load_session, redact_logs
from archiver.check.signals import Signal
from archiver.config import PlatformsSettings, Settings
from archiver.errors import ConfigError
from tests.conftest import FixedClock

TOKEN = "47%3Aabcdefghijklmnopqrstuvwx"


def test_storage_state_session(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    cookie = {"name": "xs", "value": TOKEN, "domain": ".facebook.com", "path": "/"}
    path.write_text(
        json.dumps({"cookies": [cookie, {**cookie, "name": "locale", "value": "ru_RU"}]})
    )
    session = load_session(path)
    assert session.cookie_names == ("xs", "locale")
    assert session.secrets.values == {TOKEN}  # "ru_RU" is too short to be a secret
    assert f".facebook.com\tTRUE\t/\tFALSE\t0\txs\t{TOKEN}" in session.cookies_txt()


def test_cookies_txt_session_and_its_temporary_copy(tmp_path: Path) -> None:
    path = tmp_path / "cookies.txt"
    path.write_text(
        f"# Netscape HTTP Cookie File\n#HttpOnly_.facebook.com\tTRUE\t/\tTRUE\t1999999999\txs\t{TOKEN}\n"
    )
    session = load_session(path)
    (cookie,) = session.storage_state["cookies"]
    assert (cookie["name"], cookie["httpOnly"], cookie["secure"], cookie["expires"]) == (
        "xs",
        True,
        True,
        1999999999.0,
    )
    with session.cookie_file() as copy:
        assert copy.stat().st_mode & 0o777 == 0o600
        assert TOKEN in copy.read_text()
        assert not copy.is_relative_to(tmp_path)
    assert not copy.exists() and not copy.parent.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON"),
        ('{"cookies": [{"name": "x"}]}', "needs name, value and domain"),
        ('{"cookies": []}', "no cookies"),
        ("facebook.com\tTRUE\t/\n", "line 1 is not a cookies.txt line"),
    ],
)
def test_bad_session_files_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "session"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_session(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_session(tmp_path / "missing.json")


def test_secrets_are_replaced_in_bytes_text_and_json() -> None:
    secrets = SessionSecrets(frozenset({TOKEN}))
    assert secrets.redact_bytes(f"a {TOKEN} b {TOKEN}".encode()) == (
        b"a [redacted] b [redacted]",
        2,
    )
    assert secrets.redact_json(
        {"formats": [{"cookies": "xs=1", "url": f"https://x/?t={TOKEN}"}]}
    ) == {"formats": [{"cookies": "[redacted]", "url": "https://x/?t=[redacted]"}]}


def test_scrub_exchanges_lists_where_it_redacted(clock: FixedClock) -> None:
    exchange = Exchange(
        url="https://www.facebook.com/x",
        method="GET",
        request_head=b"GET /x HTTP/1.1\r\nCookie: [redacted]\r\n\r\n",
        request_body=b"",
        started_at=clock(),
        status=200,
        response_head=f"HTTP/1.1 200 OK\r\nSet-Cookie: xs={TOKEN}\r\n\r\n".encode(),
        body=Body.from_bytes(f'<script>{{"t":"{TOKEN}"}}</script>'.encode()),
        redacted_headers=("Cookie",),
    )
    notes = scrub_exchanges([exchange], SessionSecrets(frozenset({TOKEN})))
    assert [n["where"] for n in notes] == ["request headers", "response head", "response body"]
    assert exchange.response_head is not None and TOKEN.encode() not in exchange.response_head
    assert (
        exchange.body is not None and exchange.body.read() == b'<script>{"t":"[redacted]"}</script>'
    )


def test_log_records_of_any_logger_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    secret = "S3ss10n-" + "q" * 20
    redact_logs(SessionSecrets(frozenset({secret})))
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpcore.http11").debug("headers=%r", [("Set-Cookie", f"xs={secret}")])
    assert secret not in caplog.text and "[redacted]" in caplog.text


@pytest.mark.parametrize(
    ("platform", "kind", "steps"),
    [
        ("youtube", "video", ("recognize", "video")),
        ("youtube", "channel", ("recognize",)),
        ("facebook", "post", ("recognize", "images", "video_if_present")),
        ("facebook", "reel", ("recognize", "images", "video")),
        ("news", "article", ()),
    ],
)
def test_platform_steps(platform: str, kind: str, steps: tuple[str, ...]) -> None:
    assert platform_steps(platform, kind, PlatformsSettings()) == steps


def test_videos_can_be_switched_off() -> None:
    assert platform_steps("youtube", "video", PlatformsSettings(video=False)) == ("recognize",)


def test_platform_verdict_beats_a_bare_200_but_not_nothing() -> None:
    live = Signal("live", "HTTP 200")
    removed = {
        "detail": "removed",
        "implied_state": "removed",
        "reason": "YouTube ERROR: Video unavailable",
    }
    interstitial = {
        "detail": "unsupported_browser",
        "implied_state": None,
        "reason": "update your browser",
    }
    assert combined_signal(live, removed) == Signal("removed", "YouTube ERROR: Video unavailable")
    assert combined_signal(live, interstitial).implied_state is None
    assert combined_signal(live, None) is live
    dead = Signal("dead", "HTTP 404")
    assert combined_signal(dead, interstitial) is dead


def test_ytdlp_options_follow_the_settings(tmp_path: Path) -> None:
    settings = Settings()
    network = settings.network.model_copy(update={"proxy": "socks5://127.0.0.1:9050"})
    platforms = settings.platforms.model_copy(
        update={"video_max_height": 480, "video_max_bytes": 10**6}
    )
    options = ytdlp_options(tmp_path, platforms, network)
    assert options["format"] == "bv*[height<=?480]+ba/b[height<=?480]/w"
    assert options["max_filesize"] == 10**6
    assert options["proxy"] == "socks5://127.0.0.1:9050"
    assert options["paths"]["home"] == str(tmp_path)
    assert options["cookiefile"] is None


def test_ytdlp_never_hands_a_download_to_ffmpeg(tmp_path: Path) -> None:
    """HLS and DASH natively (through the archiver's fetcher); a live stream in progress,
    which yt-dlp gives to ffmpeg whatever is asked, is not downloaded; the re-check's
    metadata probe still reads it."""
    settings = Settings()
    options = ytdlp_options(tmp_path, settings.platforms, settings.network)
    assert options["hls_prefer_native"] is True
    assert options["external_downloader"] == {"default": "native"}
    assert options["match_filter"]({"is_live": True}) == LIVE_NOW
    assert options["match_filter"]({"is_live": False, "was_live": True}) is None
    assert metadata_options(tmp_path, settings.platforms, settings.network)["match_filter"] is None
