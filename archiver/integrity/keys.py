"""Ed25519 signing keys kept in a folder (``storage/keys`` by default).

Why files and not the database: the key must survive a database restore and be
backed up, rotated and audited on its own; the private key never enters a table or
an export. Layout::

    keys/                     0700
      <fingerprint>.key       private key, PKCS#8 PEM, 0600, never rewritten
      <fingerprint>.pub       public key, SubjectPublicKeyInfo PEM
      current                 fingerprint of the key that signs now
      key-events.jsonl        append-only: created / rotated, with actor and time

A fingerprint is the sha256 (hex) of the 32 raw public key bytes, so anyone holding
an exported ``.pub`` can recompute it. Rotation writes a new key and moves
``current``; old keys are kept for ever, because signatures made with them must stay
verifiable. Key events are returned to the caller, which records them in the custody
log too; the local ``key-events.jsonl`` keeps the history even without the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from archiver.errors import KeyStoreError
from archiver.store.files import fsync_dir

CURRENT = "current"
EVENTS = "key-events.jsonl"


@dataclass(frozen=True)
class Signature:
    """An Ed25519 signature and the fingerprint of the key that made it."""

    signature: bytes
    fingerprint: str


@dataclass(frozen=True)
class KeyEvent:
    """A change to the signing keys, to be written to the custody log."""

    action: str  # "key_created" or "key_rotated"
    at: datetime
    actor: str
    fingerprint: str
    previous: str | None = None
    reason: str | None = None

    def as_details(self) -> dict[str, str | None]:
        return {"fingerprint": self.fingerprint, "previous": self.previous, "reason": self.reason}


def fingerprint_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verify(public_pem: bytes, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``data`` by the key."""
    try:
        key = serialization.load_pem_public_key(public_pem)
    except ValueError as exc:
        raise KeyStoreError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyStoreError("not an Ed25519 public key")
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


class KeyStore:
    """The signing keys under ``key_dir``; ``clock`` stamps key events."""

    def __init__(
        self, key_dir: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.key_dir = key_dir
        self._clock = clock
        self._private: Ed25519PrivateKey | None = None
        self._fingerprint: str | None = None

    # -- lifecycle -------------------------------------------------------------------

    def load_or_create(self, actor: str = "system") -> KeyEvent | None:
        """Load the current key, creating the first one when there is none.

        Returns the creation event when a key was made, else None. Safe when two
        processes start at once: one key wins, the other process uses it.
        """
        self._ensure_dir()
        current = self.key_dir / CURRENT
        if current.exists():
            self._load(current.read_text().strip())
            return None
        fingerprint = self._write_new_key()
        tmp = self.key_dir / f".{CURRENT}.{os.getpid()}.{fingerprint[:8]}"
        tmp.write_text(fingerprint + "\n")
        try:
            os.link(tmp, current)  # fails if another process got there first
        except FileExistsError:
            # The other process's key is current; ours never signed anything.
            for suffix in (".key", ".pub"):
                (self.key_dir / f"{fingerprint}{suffix}").unlink(missing_ok=True)
            self._load(current.read_text().strip())
            return None
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(self.key_dir)
        self._load(fingerprint)
        event = KeyEvent("key_created", self._now(), actor, fingerprint)
        self._log(event)
        return event

    def rotate(self, actor: str, reason: str | None = None) -> KeyEvent:
        """Make a new key current. The old one stays on disk to verify old signatures."""
        previous = self.fingerprint
        fingerprint = self._write_new_key()
        tmp = self.key_dir / f".{CURRENT}.{os.getpid()}.{fingerprint[:8]}"
        tmp.write_text(fingerprint + "\n")
        os.replace(tmp, self.key_dir / CURRENT)
        _fsync_dir(self.key_dir)
        self._load(fingerprint)
        event = KeyEvent("key_rotated", self._now(), actor, fingerprint, previous, reason)
        self._log(event)
        return event

    # -- use -------------------------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        self._require()
        assert self._fingerprint is not None
        return self._fingerprint

    def sign(self, data: bytes) -> Signature:
        key = self._require()
        return Signature(key.sign(data), self.fingerprint)

    def public_key_pem(self, fingerprint: str | None = None) -> bytes:
        """The PEM of the current key, or of an older one by fingerprint."""
        wanted = fingerprint or self.fingerprint
        path = self.key_dir / f"{wanted}.pub"
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise KeyStoreError(f"no public key {wanted} in {self.key_dir}") from exc
        key = serialization.load_pem_public_key(pem)
        if not isinstance(key, Ed25519PublicKey) or fingerprint_of(key) != wanted:
            raise KeyStoreError(f"{path} does not hold the key its name says")
        return pem

    def fingerprints(self) -> list[str]:
        """Every key this store ever held, oldest first (by the events log)."""
        seen: list[str] = []
        for event in self.events():
            if event["fingerprint"] not in seen:
                seen.append(str(event["fingerprint"]))
        return seen

    def events(self) -> list[dict[str, str | None]]:
        path = self.key_dir / EVENTS
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    # -- internals -------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("clock returned a naive datetime")
        return now.astimezone(UTC)

    def _require(self) -> Ed25519PrivateKey:
        if self._private is None:
            raise KeyStoreError("no signing key loaded: call load_or_create() first")
        return self._private

    def _ensure_dir(self) -> None:
        try:
            self.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise KeyStoreError(f"cannot create key folder {self.key_dir}: {exc}") from exc

    def _write_new_key(self) -> str:
        self._ensure_dir()
        private = Ed25519PrivateKey.generate()
        fingerprint = fingerprint_of(private.public_key())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_new(self.key_dir / f"{fingerprint}.key", pem, 0o600)
        _write_new(self.key_dir / f"{fingerprint}.pub", public_key_pem(private.public_key()), 0o644)
        return fingerprint

    def _load(self, fingerprint: str) -> None:
        path = self.key_dir / f"{fingerprint}.key"
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyStoreError(
                    f"{path} is accessible by other users (mode {stat.S_IMODE(mode):o}); "
                    "chmod 600 it"
                )
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except OSError as exc:
            raise KeyStoreError(f"cannot read signing key {path}: {exc}") from exc
        except ValueError as exc:
            raise KeyStoreError(f"{path} is not a PEM private key: {exc}") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyStoreError(f"{path} is not an Ed25519 key")
        if fingerprint_of(private.public_key()) != fingerprint:
            raise KeyStoreError(f"{path} does not hold the key its name says")
        self._private = private
        self._fingerprint = fingerprint

    def _log(self, event: KeyEvent) -> None:
        line = json.dumps(
            {
                "action": event.action,
                "at": event.at.isoformat(),
                "actor": event.actor,
                "fingerprint": event.fingerprint,
                "previous": event.previous,
                "reason": event.reason,
            },
            sort_keys=True,
        )
        fd = os.open(self.key_dir / EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the first byte on; never overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise KeyStoreError(f"cannot create {path}: {exc}") from exc
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it; make it exact
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fsync_dir(path)
