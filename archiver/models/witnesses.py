"""Copies of sources held by public web archives, and the lookups and requests that found them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from archiver.models.base import Base

# --- Witnesses (issue 18): copies held by public web archives ------------------------
# (tables for migration 0011 go below this line)


class ThirdPartyCopy(Base):
    """A copy of the source held by a public web archive (a memento), fetched raw and
    kept in its own sealed WARC: its snapshot row is ours (we retrieved it), the copy is
    the archive's. Never counted as our own capture: its snapshot row has no
    ``http_status`` (the archived page's status is ``original_status`` here)."""

    __tablename__ = "third_party_copies"

    snapshot_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("snapshots.id"), primary_key=True
    )
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    # The archive holding it, by host name ("web.archive.org").
    archive: Mapped[str] = mapped_column(String(255))
    # The memento as the archive lists it, and the URL of its raw bytes we fetched.
    memento_url: Mapped[str] = mapped_column(Text)
    raw_url: Mapped[str] = mapped_column(Text)
    # When the archive captured the page (its Memento-Datetime).
    memento_datetime: Mapped[datetime]
    # The page's own status as the archive recorded it.
    original_status: Mapped[int | None]
    # The TimeMap (or CDX query) that listed it.
    listed_by: Mapped[str] = mapped_column(Text)
    # The moment the copy was chosen nearest to, and why that moment ("report_text":
    # the date the citing report names; "intake": when the report was taken in).
    target_at: Mapped[datetime]
    target_basis: Mapped[str] = mapped_column(String(16))
    retrieved_at: Mapped[datetime]

    __table_args__ = (Index("ix_third_party_copies_source_id", "source_id"),)


class WitnessLookup(Base):
    """One search of the archives for copies of a source: whom we asked, what each
    answered, and what came of it ("found", "none", "failed")."""

    __tablename__ = "witness_lookups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    asked_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    # [{"archive", "url", "result"}]: every TimeMap or CDX API asked, and its answer.
    archives: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    snapshot_id: Mapped[str | None] = mapped_column(ForeignKey("snapshots.id"))
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_witness_lookups_source_id", "source_id", "asked_at"),)


class LiveWitness(Base):
    """An independent archive asked to capture a source right after our snapshot
    (Save Page Now): the request, its retries, and the memento it made."""

    __tablename__ = "live_witnesses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    snapshot_id: Mapped[str] = mapped_column(ForeignKey("snapshots.id"), unique=True)
    service: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    # "pending" (to ask), "running" (a job to poll), "done", "failed" (gave up).
    status: Mapped[str] = mapped_column(String(16))
    job_id: Mapped[str | None] = mapped_column(Text)
    memento_url: Mapped[str | None] = mapped_column(Text)
    memento_datetime: Mapped[datetime | None]
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None]
    # The witness's copy compared with ours (migration 0012): main-text similarity, and
    # the outcome in words ("matches our snapshot", "differs", "not compared: ...").
    similarity: Mapped[float | None] = mapped_column(Float)
    compared_at: Mapped[datetime | None]
    comparison: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_live_witnesses_due", "status", "next_attempt_at"),)
