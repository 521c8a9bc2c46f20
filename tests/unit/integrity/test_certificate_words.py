"""The certificate says in words what a snapshot lacks, who captured and from where."""

from __future__ import annotations

from archiver.integrity._certificate import _missing_text, _server_text, _who_text


def test_missing_parts_are_said_in_words_with_their_reason() -> None:
    text = _missing_text([{"artefact": "video", "reason": "HTTP 403"}])
    assert text.startswith("the video could not be downloaded: HTTP 403")
    both = _missing_text(
        [
            {"artefact": "pdf", "reason": "printing timed out"},
            {"artefact": "subtitles", "reason": "none offered"},
        ]
    )
    assert "no PDF of the page could be made: printing timed out" in both
    assert "the subtitles could not be kept: none offered" in both
    assert _missing_text([]).startswith("none")
    assert _missing_text(None).startswith("not recorded")


def test_who_captured_and_the_server_or_the_proxy() -> None:
    who = {"organisation": "Example Monitor", "operator": None, "os_account": "archiver"}
    assert _who_text(who) == "organisation Example Monitor; OS account archiver"
    assert _who_text(None).startswith("not recorded")
    assert _server_text({"server_ip": "192.0.2.7", "proxy": None}) == "192.0.2.7"
    proxied = _server_text({"server_ip": None, "proxy": "http://[redacted]@proxy:3128"})
    assert proxied == "unknown: reached through the proxy http://[redacted]@proxy:3128"
    assert _server_text(None).startswith("not recorded")
