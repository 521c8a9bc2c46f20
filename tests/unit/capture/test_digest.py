"""Digest labels: what the writer emits, what the reader understands."""

from __future__ import annotations

import base64
import hashlib

import pytest

from archiver.capture.warc._digest import Digester, parse_label, sha256_label

DATA = b"The quick brown fox jumps over the lazy dog"
# Known answers, from any sha256/sha1 tool.
SHA256 = "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"
SHA1 = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"


def test_writer_label_is_lowercase_hex_sha256() -> None:
    digester = Digester()
    digester.update(DATA)
    assert digester.label() == f"sha256:{SHA256}"
    assert sha256_label(SHA256.upper()) == f"sha256:{SHA256}"


def test_reader_parses_hex_base32_and_base64_of_any_algorithm() -> None:
    raw256, raw1 = bytes.fromhex(SHA256), bytes.fromhex(SHA1)
    assert parse_label(f"sha256:{SHA256}") == ("sha256", raw256)
    assert parse_label(f"SHA256:{SHA256.upper()}") == ("sha256", raw256)
    assert parse_label(f"sha1:{base64.b32encode(raw1).decode()}") == ("sha1", raw1)
    assert parse_label(f"sha-256:{base64.b64encode(raw256).decode()}") == ("sha256", raw256)
    assert parse_label(f"sha256:{base64.urlsafe_b64encode(raw256).decode()}") == ("sha256", raw256)


@pytest.mark.parametrize(
    "label", ["sha256", "nosuchalgo:abcd", f"sha256:{SHA256[:-2]}", "sha256:!!!!", "md5 abc"]
)
def test_malformed_or_unknown_labels_give_none(label: str) -> None:
    assert parse_label(label) is None


def test_digester_matches_hashlib() -> None:
    digester = Digester("sha1")
    digester.update(DATA[:10])
    digester.update(memoryview(DATA)[10:])
    assert digester.hexdigest() == hashlib.sha1(DATA).hexdigest() == SHA1
