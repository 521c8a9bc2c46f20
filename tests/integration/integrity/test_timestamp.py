"""RFC 3161 against a real TSA (``openssl ts -reply``), checked by us and by openssl."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from archiver.errors import TimestampError
from archiver.integrity.timestamp import (
    PendingTimestamp,
    TimestampClient,
    TimestampToken,
    build_request,
    token_info,
    verify_response,
)
from tests.integration.integrity.conftest import LocalTsa, make_tsa_pki, openssl

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DIGEST = hashlib.sha256(b'{"format":"evidence-archiver/manifest/1"}').hexdigest()


def _client(*urls: str, nonce: int = 0x1234_5678_9ABC_DEF0) -> TimestampClient:
    return TimestampClient(urls, timeout=10, clock=lambda: NOW, nonce_factory=lambda: nonce)


def test_our_request_is_what_openssl_expects(tmp_path: Path) -> None:
    query = tmp_path / "q.tsq"
    query.write_bytes(build_request(bytes.fromhex(DIGEST), 0x0102030405060708))
    text = openssl("ts", "-query", "-in", str(query), "-text", cwd=tmp_path).decode()
    assert "Version: 1" in text
    assert "Hash Algorithm: sha256" in text
    assert "Nonce: 0x0102030405060708" in text
    assert "Certificate required: yes" in text
    # openssl's own request for the same digest differs only in the nonce.
    theirs = tmp_path / "theirs.tsq"
    openssl("ts", "-query", "-digest", DIGEST, "-sha256", "-no_nonce", "-cert", "-out", str(theirs), cwd=tmp_path)  # fmt: skip
    ours = build_request(bytes.fromhex(DIGEST), 5)
    assert theirs.read_bytes()[2:56] == ours[2:56]  # version + message imprint


def test_token_from_a_real_tsa_verifies_with_us_and_openssl(
    local_tsa: LocalTsa, tmp_path: Path
) -> None:
    client = _client(local_tsa.url)
    [result] = client.stamp(DIGEST)
    assert isinstance(result, TimestampToken), result
    assert result.digest == DIGEST
    assert result.tsa_url == local_tsa.url
    assert result.policy == "1.2.3.4.1"
    assert abs((result.gen_time - datetime.now(UTC)).total_seconds()) < 120
    assert result.received_at == NOW
    assert token_info(result.token) == (DIGEST, result.gen_time, result.serial)
    # Independent check: the stored token alone, the digest, and the CA.
    token = tmp_path / "token.der"
    token.write_bytes(result.token)
    out = openssl(
        "ts", "-verify", "-digest", DIGEST, "-token_in", "-in", str(token),
        "-CAfile", str(local_tsa.ca), "-untrusted", str(local_tsa.cert), cwd=tmp_path,
    )  # fmt: skip
    assert b"Verification: OK" in out


def test_openssl_rejects_the_token_for_another_digest(local_tsa: LocalTsa, tmp_path: Path) -> None:
    [result] = _client(local_tsa.url).stamp(DIGEST)
    assert isinstance(result, TimestampToken)
    token = tmp_path / "token.der"
    token.write_bytes(result.token)
    done = subprocess.run(
        ["openssl", "ts", "-verify", "-digest", "00" * 32, "-token_in", "-in", str(token),
         "-CAfile", str(local_tsa.ca), "-untrusted", str(local_tsa.cert)],
        capture_output=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0


def test_full_response_verifies_with_openssl(local_tsa: LocalTsa, tmp_path: Path) -> None:
    query = build_request(bytes.fromhex(DIGEST), 77)
    response = local_tsa.reply(query)
    (tmp_path / "resp.tsr").write_bytes(response)
    out = openssl(
        "ts", "-verify", "-digest", DIGEST, "-in", "resp.tsr",
        "-CAfile", str(local_tsa.ca), "-untrusted", str(local_tsa.cert), cwd=tmp_path,
    )  # fmt: skip
    assert b"Verification: OK" in out
    token = verify_response(response, bytes.fromhex(DIGEST), 77, tsa_url="x", received_at=NOW)
    assert token.nonce == 77


def test_wrong_nonce_and_wrong_digest_are_refused(local_tsa: LocalTsa) -> None:
    response = local_tsa.reply(build_request(bytes.fromhex(DIGEST), 77))
    with pytest.raises(TimestampError, match="nonce"):
        verify_response(response, bytes.fromhex(DIGEST), 78, tsa_url="x", received_at=NOW)
    with pytest.raises(TimestampError, match="imprint"):
        verify_response(response, bytes(32), 77, tsa_url="x", received_at=NOW)


def test_tampered_token_is_refused(local_tsa: LocalTsa) -> None:
    response = bytearray(local_tsa.reply(build_request(bytes.fromhex(DIGEST), 77)))
    # Flip one byte inside the signature (the response ends with it).
    response[-10] ^= 0x01
    with pytest.raises(TimestampError, match="signature"):
        verify_response(bytes(response), bytes.fromhex(DIGEST), 77, tsa_url="x", received_at=NOW)


@pytest.mark.parametrize("cut", [1, 5, 100, 500])
def test_truncated_response_is_a_timestamp_error(local_tsa: LocalTsa, cut: int) -> None:
    response = local_tsa.reply(build_request(bytes.fromhex(DIGEST), 77))
    with pytest.raises(TimestampError):
        verify_response(response[:-cut], bytes.fromhex(DIGEST), 77, tsa_url="x", received_at=NOW)


def test_tsa_answering_for_another_digest_leaves_it_pending(local_tsa: LocalTsa) -> None:
    local_tsa.mode = "wrong-digest"
    [result] = _client(local_tsa.url).stamp(DIGEST)
    assert isinstance(result, PendingTimestamp)
    assert "imprint" in result.reason


@pytest.mark.parametrize(
    ("mode", "reason"), [("http500", "HTTP 500"), ("garbage", "TimestampError")]
)
def test_bad_tsa_answers_become_pending(local_tsa: LocalTsa, mode: str, reason: str) -> None:
    local_tsa.mode = mode
    [result] = _client(local_tsa.url).stamp(DIGEST)
    assert isinstance(result, PendingTimestamp)
    assert reason in result.reason
    assert result.attempted_at == NOW and result.attempts == 1


def test_offline_stamps_are_pending_then_retried(local_tsa: LocalTsa) -> None:
    # Port 9 on localhost: nothing listens, the connection is refused at once.
    offline = "http://127.0.0.1:9/tsr"
    client = _client(offline, local_tsa.url)
    first = client.stamp(DIGEST)
    assert isinstance(first[0], PendingTimestamp) and "ConnectError" in first[0].reason
    assert isinstance(first[1], TimestampToken)
    # Later the network is back (here: the pending one is pointed at the working TSA).
    pending = PendingTimestamp(local_tsa.url, DIGEST, first[0].reason, NOW, attempts=1)
    [again] = client.retry([pending])
    assert isinstance(again, TimestampToken)
    [still] = client.retry([first[0]])
    assert isinstance(still, PendingTimestamp) and still.attempts == 2
    client.close()


def test_rejection_status_is_reported(tmp_path: Path, local_tsa: LocalTsa) -> None:
    # A request for an algorithm the TSA does not accept gets status "rejection".
    query = tmp_path / "md5.tsq"
    openssl("ts", "-query", "-digest", "00" * 20, "-sha1", "-out", str(query), cwd=tmp_path)
    response = local_tsa.reply(query.read_bytes())
    with pytest.raises(TimestampError, match="rejection"):
        verify_response(response, bytes(20), 0, tsa_url="x", received_at=NOW)


def test_ec_tsa_key_verifies_too(tmp_path: Path) -> None:
    make_tsa_pki(tmp_path, key_type="ec")
    tsa = LocalTsa(dir=tmp_path, url="")
    response = tsa.reply(build_request(bytes.fromhex(DIGEST), 99))
    token = verify_response(response, bytes.fromhex(DIGEST), 99, tsa_url="x", received_at=NOW)
    assert token.serial >= 1


def test_client_uses_injected_http_client(local_tsa: LocalTsa) -> None:
    seen: list[str] = []

    async def note(request: httpx.Request) -> None:
        seen.append(request.headers["content-type"])

    def http() -> httpx.AsyncClient:
        return httpx.AsyncClient(event_hooks={"request": [note]})

    client = TimestampClient([local_tsa.url], http=http, clock=lambda: NOW)
    [result] = client.stamp(DIGEST)
    [again] = client.stamp(DIGEST)  # the same client, on the same loop
    client.close()
    assert isinstance(result, TimestampToken) and isinstance(again, TimestampToken)
    assert seen == ["application/timestamp-query"] * 2
