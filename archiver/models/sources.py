"""Reports, the sources they cite, and their snapshots, observations and platform records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archiver.models.base import Base


class Report(Base):
    """A document that cites sources. Its original bytes are kept under storage/reports."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    encoding: Mapped[str | None] = mapped_column(String(32))
    # Where it came from as the operator gave it: a path, a URL, "inbox:<name>".
    origin: Mapped[str] = mapped_column(Text)
    # The final URL when fetched from the web (redirects followed).
    fetched_url: Mapped[str | None] = mapped_column(Text)
    # Path of the stored original, relative to storage.root.
    stored_path: Mapped[str] = mapped_column(Text)
    ingested_at: Mapped[datetime]
    # {"skipped": [{"url", "reason"}], "warnings": [...]}: what the harvest left out and why.
    harvest_notes: Mapped[dict[str, Any]]

    citations: Mapped[list[Citation]] = relationship(
        back_populates="report", order_by="Citation.position", cascade="all, delete-orphan"
    )


class Source(Base):
    """One normalized URL, cited by one or more citations."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    # Unique key on the hash, not the URL: B-tree keys are size-limited on PostgreSQL
    # and cited URLs can be thousands of characters long.
    url_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    state_since: Mapped[datetime]
    first_seen_at: Mapped[datetime]
    last_checked_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    # Capture bookkeeping: a source is captured until one snapshot preserves it; failed
    # attempts are retried with back-off.
    capture_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_capture_at: Mapped[datetime | None]
    # One capture or check of a source at a time, whatever runs (two daemons, a daemon
    # and `archiver capture`): the runner holding it, and until when (expires if it dies).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]

    citations: Mapped[list[Citation]] = relationship(back_populates="source")
    snapshots: Mapped[list[Snapshot]] = relationship(
        back_populates="source", order_by="Snapshot.started_at"
    )

    __table_args__ = (
        Index("ix_sources_state", "state"),
        Index("ix_sources_next_check_at", "next_check_at"),
        Index("ix_sources_next_capture_at", "next_capture_at"),
    )


class Citation(Base):
    """One citing occurrence of a source in a report: footnote marker and claim."""

    __tablename__ = "citations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    position: Mapped[int]
    marker: Mapped[str | None] = mapped_column(String(32))
    url_as_cited: Mapped[str] = mapped_column(Text)
    context: Mapped[str] = mapped_column(Text)

    report: Mapped[Report] = relationship(back_populates="citations")
    source: Mapped[Source] = relationship(back_populates="citations")

    __table_args__ = (
        UniqueConstraint("report_id", "position", name="uq_citations_report_position"),
        Index("ix_citations_source_id", "source_id"),
    )


class Snapshot(Base):
    """One capture of a source at one time: one immutable WARC file and its hashes.

    A row is written only after its WARC file is sealed (fsynced and renamed), so a row
    never points to a missing file. A failed attempt (DNS failure, refused connection)
    is a snapshot too: its WARC holds the provenance record of what was tried and seen.
    """

    __tablename__ = "snapshots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    # "http", "browser" or both, in the order run.
    methods: Mapped[list[str]] = mapped_column(JSON)
    # Path relative to storage.root, its sha256 and size as written.
    warc_path: Mapped[str] = mapped_column(Text)
    warc_sha256: Mapped[str] = mapped_column(String(64))
    warc_size: Mapped[int] = mapped_column(BigInteger)
    # The main document: status, where the redirects ended, payload as received.
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    redirect_chain: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    payload_size: Mapped[int | None] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    # Failure of the main document when there was no response.
    failure_kind: Mapped[str | None] = mapped_column(String(32))
    failure_message: Mapped[str | None] = mapped_column(Text)
    # None for plain http; False when the certificate did not verify (captured anyway).
    tls_verified: Mapped[bool | None] = mapped_column(Boolean)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Derived artefacts: [{"kind", "uri", "content_type", "size", "sha256"}].
    artefacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    records: Mapped[int] = mapped_column(Integer)
    # What the snapshot lacks: [{"artefact", "reason"}], [] when complete; None for
    # snapshots written before this was recorded.
    incomplete: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    source: Mapped[Source] = relationship(back_populates="snapshots")

    __table_args__ = (Index("ix_snapshots_source_id", "source_id"),)


class Observation(Base):
    """What one look at a source saw (a capture, later a check), and the state it implies.

    Append-only: the evidence behind every state change.
    """

    __tablename__ = "observations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    observed_at: Mapped[datetime]
    # "capture" or "check".
    via: Mapped[str] = mapped_column(String(16))
    snapshot_id: Mapped[str | None] = mapped_column(ForeignKey("snapshots.id"))
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    failure_kind: Mapped[str | None] = mapped_column(String(32))
    # The state this observation points to, and the state the source was given.
    implied_state: Mapped[str] = mapped_column(String(16))
    resulting_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_observations_source_id", "source_id", "observed_at"),)


# --- Platform records (issue 4): YouTube and Facebook ---------------------------------
# (tables for migration 0005 go below this line)


class PlatformRecord(Base):
    """What the platform step of one snapshot found (YouTube, Facebook): the platform's
    own verdict on the content, the video fetched through yt-dlp (its sha256 as written
    into the snapshot's WARC), and the extracted metadata or post text. One per
    snapshot; immutable like the snapshot."""

    __tablename__ = "platform_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[str] = mapped_column(ForeignKey("snapshots.id"), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    recorded_at: Mapped[datetime]
    # "youtube" or "facebook".
    platform: Mapped[str] = mapped_column(String(16))
    # The recogniser's verdict: detail (available, removed, private, age_restricted,
    # geo_blocked, login_wall, checkpoint, ...), the DESIGN state it implies, and why.
    detail: Mapped[str | None] = mapped_column(String(32))
    implied_state: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    # The video: "saved", "failed", "skipped" (too big, a playlist) or "none" (not tried).
    media_status: Mapped[str] = mapped_column(String(16))
    media_error: Mapped[str | None] = mapped_column(Text)
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    media_size: Mapped[int | None] = mapped_column(BigInteger)
    ytdlp_version: Mapped[str | None] = mapped_column(String(32))
    # Title, description, duration, channel (YouTube); post text, image URLs (Facebook);
    # yt-dlp's format summary.
    extracted: Mapped[dict[str, Any]]
    # Whether an operator session was used, and where its values were redacted.
    session_used: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_platform_records_source_id", "source_id"),)
