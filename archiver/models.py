"""The domain model as SQLAlchemy 2 tables: reports, citations, sources.

Schema changes go through Alembic migrations in archiver/store/migrations; a test checks
that the migrations and these models agree on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Report(Base):
    """A document that cites sources. Its original bytes are kept under storage/reports."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int]
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

    citations: Mapped[list[Citation]] = relationship(back_populates="source")

    __table_args__ = (
        Index("ix_sources_state", "state"),
        Index("ix_sources_next_check_at", "next_check_at"),
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
