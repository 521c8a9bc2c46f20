"""The warcinfo block, and keeping secrets out of it."""

from __future__ import annotations

import pytest

from archiver import __version__
from archiver.capture.warc import default_redact
from archiver.capture.warc.warcinfo import warcinfo_block
from archiver.errors import WarcError


def test_block_lists_software_format_operator_then_sorted_settings() -> None:
    block = warcinfo_block(
        operator="Human Rights Monitor <ops@example.org>",
        settings={"capture": {"timeout": 30, "browser": "chromium"}, "a": True, "z": [1, "x"]},
    )
    assert block.decode() == (
        f"software: evidence-archiver/{__version__}\r\n"
        "format: WARC File Format 1.1\r\n"
        "conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n"
        "operator: Human Rights Monitor <ops@example.org>\r\n"
        "a: true\r\n"
        "capture.browser: chromium\r\n"
        "capture.timeout: 30\r\n"
        'z: [1, "x"]\r\n'
    )


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("integrity.tsa_password", "hunter2", "[redacted]"),
        ("api_key", "abc", "[redacted]"),
        ("network.auth", "Basic xyz", "[redacted]"),
        ("session-id", "s", "[redacted]"),
        ("network.proxy", "socks5://user:pw@proxy:1080", "socks5://[redacted]@proxy:1080"),
        (
            "tsa_url",
            "https://tsa.example/?apikey=SECRET&x=1",
            "https://tsa.example/?apikey=[redacted]&x=1",
        ),
        ("capture.timeout", "30", "30"),
        ("integrity.signing_key_path", "/keys/ed25519", "/keys/ed25519"),
        ("author", "monitor", "monitor"),
    ],
)
def test_default_redact(key: str, value: str, shown: str) -> None:
    assert default_redact(key, value) == shown


def test_default_redact_applies_to_nested_settings() -> None:
    block = warcinfo_block(
        operator=None, settings={"network": {"proxy": "http://u:p@h:3128", "token": "t0k"}}
    ).decode()
    assert "u:p" not in block and "t0k" not in block
    assert "network.proxy: http://[redacted]@h:3128\r\n" in block
    assert "operator" not in block


def test_custom_redact_hook_can_rewrite_and_drop() -> None:
    seen: list[tuple[str, str]] = []

    def redact(key: str, value: str) -> str | None:
        seen.append((key, value))
        return None if key == "drop" else value.upper()

    block = warcinfo_block(
        operator="o", settings={"drop": "x", "keep": "y"}, redact=redact
    ).decode()
    assert seen == [("drop", "x"), ("keep", "y")]
    assert "drop" not in block and "keep: Y\r\n" in block


def test_multiline_values_are_json_quoted_not_forging_fields() -> None:
    block = warcinfo_block(operator=None, settings={"note": "a\r\nformat: fake"}).decode()
    assert 'note: "a\\r\\nformat: fake"\r\n' in block


def test_settings_cannot_shadow_standard_fields_or_be_unserialisable() -> None:
    with pytest.raises(WarcError):
        warcinfo_block(operator=None, settings={"software": "other"})
    with pytest.raises(WarcError):
        warcinfo_block(operator=None, settings={"x": object()})


def test_blocks_are_remembered_by_value_not_by_object() -> None:
    settings: dict[str, object] = {"capture": {"level": 1, "proxy": "http://u:pw@proxy:3128"}}
    first = warcinfo_block(operator=None, settings=settings)
    equal = {"capture": {"level": 1, "proxy": "http://u:pw@proxy:3128"}}
    assert warcinfo_block(operator=None, settings=equal) == first
    settings["capture"] = {"level": 1.0, "proxy": "http://u:pw@proxy:3128"}
    changed = warcinfo_block(operator=None, settings=settings)
    assert b"capture.level: 1.0\r\n" in changed and b"capture.level: 1\r\n" in first
    assert b"pw" not in changed and b"[redacted]@proxy" in changed
    assert warcinfo_block(operator="Monitor", settings=settings) != changed


def test_unserialisable_setting_still_named_in_the_error() -> None:
    with pytest.raises(WarcError, match=r"capture\.when"):
        warcinfo_block(operator=None, settings={"capture": {"when": object()}})


def test_who_captured_follows_the_operator_and_cannot_be_shadowed() -> None:
    block = warcinfo_block(
        operator="Documentation team",
        organisation="Example Monitor",
        os_account="archiver",
        settings={"a": 1},
    ).decode()
    assert block.splitlines()[3:6] == [
        "operator: Documentation team",
        "organisation: Example Monitor",
        "os-account: archiver",
    ]
    # Unset fields are left out; each is a distinct cache key.
    assert "organisation" not in warcinfo_block(operator=None, settings={"a": 1}).decode()
    with pytest.raises(WarcError):
        warcinfo_block(operator=None, settings={"os-account": "forged"})
