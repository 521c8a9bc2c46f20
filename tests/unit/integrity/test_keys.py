"""Ed25519 key store: created once with tight permissions, rotated without loss."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from archiver.errors import KeyStoreError
from archiver.integrity.keys import KeyStore, verify
from tests.conftest import FixedClock


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_creates_a_private_key_only_the_owner_can_read(
    tmp_path: Path, clock: FixedClock
) -> None:
    store = KeyStore(tmp_path / "keys", clock)
    event = store.load_or_create(actor="operator")
    assert event is not None and event.action == "key_created"
    assert event.at == clock.now and event.actor == "operator"
    private = tmp_path / "keys" / f"{store.fingerprint}.key"
    assert _mode(private) == 0o600
    assert _mode(tmp_path / "keys") == 0o700
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    # The fingerprint is the sha256 of the 32 raw public key bytes.
    public = serialization.load_pem_public_key(store.public_key_pem())
    assert isinstance(public, Ed25519PublicKey)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert store.fingerprint == hashlib.sha256(raw).hexdigest()


def test_second_start_loads_the_same_key(tmp_path: Path, clock: FixedClock) -> None:
    first = KeyStore(tmp_path, clock)
    first.load_or_create()
    second = KeyStore(tmp_path, clock)
    assert second.load_or_create() is None
    assert second.fingerprint == first.fingerprint
    assert len(second.events()) == 1


def test_signatures_verify_and_tampering_is_detected(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.load_or_create()
    signed = store.sign(b"manifest bytes")
    assert signed.fingerprint == store.fingerprint
    assert len(signed.signature) == 64
    pem = store.public_key_pem()
    assert verify(pem, b"manifest bytes", signed.signature)
    assert not verify(pem, b"manifest bytez", signed.signature)
    assert not verify(pem, b"manifest bytes", bytes(64))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_openssl_accepts_our_signature(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    store.load_or_create()
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes('{"a":"Ärzte ohne Grenzen","n":1e+30}'.encode())
    (tmp_path / "sig.bin").write_bytes(store.sign(manifest.read_bytes()).signature)
    (tmp_path / "pub.pem").write_bytes(store.public_key_pem())
    cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin",
           "-in", "manifest.json", "-sigfile", "sig.bin"]  # fmt: skip
    ok = subprocess.run(cmd, cwd=tmp_path, capture_output=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert b"Signature Verified Successfully" in ok.stdout
    manifest.write_bytes(manifest.read_bytes().replace(b"1e+30", b"1e+31"))
    bad = subprocess.run(cmd, cwd=tmp_path, capture_output=True, check=False)
    assert bad.returncode != 0


def test_rotation_keeps_old_keys_and_logs_the_change(tmp_path: Path, clock: FixedClock) -> None:
    store = KeyStore(tmp_path, clock)
    store.load_or_create()
    old = store.fingerprint
    old_signature = store.sign(b"old")
    clock.advance(days=30)
    event = store.rotate(actor="alice", reason="yearly rotation")
    assert (event.action, event.previous, event.fingerprint) == (
        "key_rotated",
        old,
        store.fingerprint,
    )
    assert event.at == clock.now
    assert store.fingerprint != old
    # The old key stays, and old signatures still verify with it.
    assert verify(store.public_key_pem(old), b"old", old_signature.signature)
    assert store.sign(b"new").fingerprint == store.fingerprint
    assert store.fingerprints() == [old, store.fingerprint]
    events = store.events()
    assert [e["action"] for e in events] == ["key_created", "key_rotated"]
    assert events[1]["actor"] == "alice" and events[1]["reason"] == "yearly rotation"
    # A new process picks up the rotated key.
    reopened = KeyStore(tmp_path, clock)
    assert reopened.load_or_create() is None
    assert reopened.fingerprint == store.fingerprint
    assert sorted(p.name for p in tmp_path.glob("*.key")) == sorted(
        [f"{old}.key", f"{store.fingerprint}.key"]
    )


def test_a_private_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.load_or_create()
    os.chmod(tmp_path / f"{store.fingerprint}.key", 0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        KeyStore(tmp_path).load_or_create()


def test_a_swapped_key_file_is_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.load_or_create()
    first = store.fingerprint
    store.rotate(actor="t")
    # Someone copies the new key over the old key's file name.
    target = tmp_path / f"{first}.key"
    os.chmod(target, 0o600)
    target.write_bytes((tmp_path / f"{store.fingerprint}.key").read_bytes())
    (tmp_path / "current").write_text(first + "\n")
    with pytest.raises(KeyStoreError, match="does not hold the key its name says"):
        KeyStore(tmp_path).load_or_create()


def test_using_a_store_before_loading_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="load_or_create"):
        KeyStore(tmp_path).sign(b"x")


def test_verify_refuses_a_non_ed25519_key() -> None:
    with pytest.raises(KeyStoreError):
        verify(b"not a pem", b"x", bytes(64))


def test_two_processes_starting_together_agree_on_one_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # B checks for "current", finds none, makes a key; A wins the race to link "current".
    a = KeyStore(tmp_path)
    real_link = os.link

    def link_after_a(src: Path, dst: Path) -> None:
        monkeypatch.setattr("archiver.integrity.keys.os.link", real_link)
        a.load_or_create()
        real_link(src, dst)

    b = KeyStore(tmp_path)
    monkeypatch.setattr("archiver.integrity.keys.os.link", link_after_a)
    assert b.load_or_create() is None  # B did not create the current key
    assert b.fingerprint == a.fingerprint
    # B's never-used key is gone; only A's remains, and one creation event.
    assert [p.name for p in tmp_path.glob("*.key")] == [f"{a.fingerprint}.key"]
    assert [e["action"] for e in b.events()] == ["key_created"]
    assert not list(tmp_path.glob(".current*"))
