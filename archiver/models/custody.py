"""The custody log and the integrity records that seal it: manifests, heads, timestamp tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from archiver.models.base import Base


class CustodyEvent(Base):
    """One entry of the custody log: who did what to which piece of evidence, and when.

    Append-only and hash-chained (archiver.integrity.custody): ``entry_hash`` is the
    sha256 of the canonical JSON of every other field including ``prev_hash``, the
    previous entry's ``entry_hash``. ``seq`` is unique, so two writers can never fork
    the chain.
    """

    __tablename__ = "custody_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime]
    # "system", "daemon", "cli:<user>", "web:<user>": who acted.
    actor: Mapped[str] = mapped_column(Text)
    # "capture", "check", "export", "download", "key_created", "key_rotated", ...
    action: Mapped[str] = mapped_column(String(32))
    # "snapshot", "source", "report", "key", "export": what it was done to.
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_custody_events_subject", "subject_type", "subject_id"),)


# --- Integrity records (issue 6): manifests, signatures, timestamp tokens -------------
# (tables for migration 0004 go below this line)


class SnapshotSeal(Base):
    """A snapshot's signed manifest (archiver.integrity.manifest): the exact canonical
    JSON bytes that were signed and timestamped, their sha256, the Ed25519 signature and
    the fingerprint of the key that made it. Written once with the snapshot's row;
    never updated or deleted."""

    __tablename__ = "snapshot_seals"

    snapshot_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("snapshots.id"), primary_key=True
    )
    manifest: Mapped[bytes] = mapped_column(LargeBinary)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime]


class CustodyHead(Base):
    """A signed statement of the custody log's head (its last ``seq`` and hash), so
    entries cut off the end of the chain are detectable. Timestamped like a manifest."""

    __tablename__ = "custody_heads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    # Canonical JSON {"format", "seq", "head_hash", "at"}: the bytes signed and stamped.
    document: Mapped[bytes] = mapped_column(LargeBinary)
    document_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime]


class TimestampRecord(Base):
    """One RFC 3161 stamp of one digest from one TSA: pending until a token is received
    and verified, then granted. A token, once stored, is never replaced."""

    __tablename__ = "timestamp_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "snapshot" (the manifest) or "custody_head" (the head document).
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    tsa_url: Mapped[str] = mapped_column(Text)
    # "pending" or "granted".
    status: Mapped[str] = mapped_column(String(16))
    token: Mapped[bytes | None] = mapped_column(LargeBinary)
    gen_time: Mapped[datetime | None]
    # TSA serial numbers can be 160 bits: kept as decimal text.
    serial: Mapped[str | None] = mapped_column(Text)
    tsa_certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    received_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("digest", "tsa_url", name="uq_timestamp_tokens_digest_tsa"),
        Index("ix_timestamp_tokens_due", "status", "next_attempt_at"),
        Index("ix_timestamp_tokens_subject", "subject_type", "subject_id"),
    )
