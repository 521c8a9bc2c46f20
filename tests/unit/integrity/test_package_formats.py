"""Small formats of the evidence package: SURT keys of the CDXJ index, sha256sum
files, and the VERIFY.md commands generated for a package."""

from __future__ import annotations

import pytest

from archiver.integrity._package import parse_sums, sums_text
from archiver.integrity._verify_doc import verify_md
from archiver.integrity._wacz import surt


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://www.Example.org/A/b.html", "org,example)/a/b.html"),
        ("http://example.org", "org,example)/"),
        ("https://rus.azattyq.org/a/1.html?b=2&a=1", "org,azattyq,rus)/a/1.html?a=1&b=2"),
        ("https://rus.azattyq.org:8443/a", "org,azattyq,rus:8443)/a"),
        ("http://127.0.0.1:8080/x", "127.0.0.1:8080)/x"),
        ("urn:screenshot:https://example.org/", "urn:screenshot:https://example.org/"),
    ],
)
def test_surt(url: str, key: str) -> None:
    assert surt(url) == key


def test_sums_round_trip_and_bad_lines_are_reported() -> None:
    text = sums_text([("a" * 64, "manifest.json"), ("b" * 64, "custody/head.json")])
    assert text == f"{'a' * 64}  manifest.json\n{'b' * 64}  custody/head.json\n".encode()
    assert parse_sums(text) == ({"manifest.json": "a" * 64, "custody/head.json": "b" * 64}, [])
    entries, bad = parse_sums(text.replace(b"a" * 64, b"A" * 64))  # not lowercase hex
    assert "manifest.json" not in entries and bad and "line 1" in bad[0]
    _, bad = parse_sums(text[:-1])
    assert bad == ["last line has no newline"]
    _, bad = parse_sums(text + text.splitlines(keepends=True)[0])
    assert bad and "line 3" in bad[0]  # a file listed twice
    assert parse_sums(b"\xff\xfe") == ({}, ["not UTF-8 text"])


def test_verify_md_names_each_token_and_the_pending_ones() -> None:
    manifest = {
        "snapshot_id": "s1",
        "source": {"url": "https://example.org/a"},
        "capture": {
            "started_at": "2026-01-02T03:04:05.000000Z",
            "finished_at": "2026-01-02T03:04:06.000000Z",
        },
        "warc": {"sha256": "c" * 64, "size": 1234},
    }
    stamps = [
        {"subject": "manifest.json", "tsa_url": "https://tsa.one/", "file": "timestamps/manifest-1.tsr",
         "certificates": "timestamps/manifest-1-certs.pem", "gen_time": "2026-01-02T03:05:00.000000Z",
         "root": "timestamps/roots/tsa.one.pem", "root_sha256": "a" * 64,
         "root_source": "integrity.tsa_roots: /etc/one.pem"},
        {"subject": "manifest.json", "tsa_url": "https://tsa.two/", "file": None, "certificates": None, "gen_time": None},
        {"subject": "manifest.json", "tsa_url": "http://tsa.three:8080/tsr", "file": "timestamps/manifest-3.tsr",
         "certificates": "timestamps/manifest-3-certs.pem", "gen_time": "2026-01-02T03:06:00.999999Z",
         "root": None, "root_sha256": None, "root_source": "none found"},
    ]  # fmt: skip
    text = verify_md(manifest, stamps, "1-s1.warc.gz", "f" * 64, package="ev 1.zip").decode()
    # One root per authority, named after it; each token checked as of its own time.
    assert (
        "openssl ts -verify -data manifest.json -in timestamps/manifest-1.tsr -token_in "
        "-CAfile timestamps/roots/tsa.one.pem -untrusted timestamps/manifest-1-certs.pem "
        "-attime 1767323100"
    ) in text
    assert (
        "-CAfile timestamps/roots/tsa.three-8080.pem -untrusted timestamps/manifest-3-certs.pem "
        "-attime 1767323160"
    ) in text
    assert "TSA-ROOT.pem" not in text
    assert (
        f"fingerprint `{':'.join(['AA'] * 32)}`, bundled from integrity.tsa_roots: /etc/one.pem"
        in text
    )
    assert "`timestamps/roots/tsa.three-8080.pem`: **not bundled** (none found)" in text
    assert "openssl x509 -in timestamps/roots/tsa.one.pem -noout -subject -fingerprint" in text
    assert f"echo '{'c' * 64}  wacz/archive/1-s1.warc.gz' | sha256sum -c -" in text
    assert "Pending (not obtained yet) from https://tsa.two/ for manifest.json." in text
    assert f"Expected: `{'f' * 64}`" in text
    # Extracted into a folder named after the package; added files listed.
    assert "unzip 'ev 1.zip' -d 'ev 1' && cd 'ev 1'" in text
    assert "unzip -Z1 '../ev 1.zip' | awk" in text
    # The key is compared with the published one, not with the package's own file.
    assert "${PUBLISHED_KEYS:?" in text and "key/manifest-public.pem" not in text
    rotated = verify_md(manifest, stamps, "w", "f" * 64, "key/manifest-public.pem").decode()
    assert rotated.count("${PUBLISHED_KEYS:?") == 2
    assert "unzip evidence.zip -d evidence && cd evidence" in rotated
