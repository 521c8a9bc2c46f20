"""Web access: API tokens, and the report feeds polled for new reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from archiver.models.base import Base

# --- Web access (issue 7): API tokens, report feeds -----------------------------------
# (tables for migration 0007 go below this line)


class ApiToken(Base):
    """A bearer token for the web pages and the API. Only its sha256 is stored: the
    token itself is shown once, when created, and cannot be recovered."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # "viewer" (status), "lawyer" (+ downloads), "admin" (+ adding reports, settings).
    role: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, to tell tokens apart in listings.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ReportFeed(Base):
    """A feed of reports (RSS, Atom, or a listing page) polled on a schedule."""

    __tablename__ = "report_feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    url_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    added_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(Text)
    # Listing pages: a regular expression report links must match (None: links to
    # documents such as .pdf or .docx). Ignored for RSS and Atom.
    link_pattern: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_polled_at: Mapped[datetime | None]
    # The last poll's problem in one line, None when it went well.
    last_error: Mapped[str | None] = mapped_column(Text)


class FeedEntry(Base):
    """One report link a feed listed: remembered so it is harvested once."""

    __tablename__ = "feed_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("report_feeds.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    url_sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    # Why it could not be added (kept, and not retried automatically).
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("feed_id", "url_sha256", name="uq_feed_entries_url"),)
