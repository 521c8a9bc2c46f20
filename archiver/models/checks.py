"""Re-checks: runs, results, state transitions, baselines, host profiles, notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from archiver.models.base import Base

# --- Re-check (issue 5): check runs, state transitions, baselines ---------------------
# (tables for migration 0006 go below this line)


class CheckRun(Base):
    """One batch of checks. A degraded run (our own network was down) changed no state."""

    __tablename__ = "check_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # "daemon" or "cli": who started it.
    trigger: Mapped[str] = mapped_column(String(16))
    checked: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    degraded_reason: Mapped[str | None] = mapped_column(Text)
    # {"by_implied_state": {...}, "failures": {...}}
    summary: Mapped[dict[str, Any]]
    # The process running it ("host:pid:token", archiver.check.abandoned); NULL: a run
    # from before this was recorded.
    owner: Mapped[str | None] = mapped_column(String(255))
    # Set (with finished_at) when the run was found left unfinished by a process that
    # ended: its checks were not recorded.
    abandoned_reason: Mapped[str | None] = mapped_column(Text)


class CheckResult(Base):
    """What a check saw beyond the observation row: similarity to the baseline, the
    changed sentences, and whether its run was degraded (then it is no evidence)."""

    __tablename__ = "check_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id"), unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("check_runs.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    baseline_snapshot_id: Mapped[str | None] = mapped_column(ForeignKey("snapshots.id"))
    similarity: Mapped[float | None] = mapped_column(Float)
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    # Readable diff against the baseline: "- removed sentence", "+ added sentence".
    diff: Mapped[list[str]] = mapped_column(JSON)
    # An accusation seen but not yet confirmed, and when a confirming check counts.
    pending_state: Mapped[str | None] = mapped_column(String(16))
    confirm_at: Mapped[datetime | None]
    details: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_check_results_source_id", "source_id"),)


class StateTransition(Base):
    """A source's state changed: when, from what to what, why, and the observations
    that justified it (append-only)."""

    __tablename__ = "state_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    at: Mapped[datetime]
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    observation_ids: Mapped[list[int]] = mapped_column(JSON)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("check_runs.id"))
    # The snapshot captured because the source was found altered.
    snapshot_id: Mapped[str | None] = mapped_column(ForeignKey("snapshots.id"))

    __table_args__ = (Index("ix_state_transitions_source_id", "source_id", "at"),)


class Baseline(Base):
    """The main text of a source's first good snapshot: what later checks compare with.
    Written once, never replaced (its snapshot never changes; the literal text is read
    again from that snapshot's WARC when its form is older than the code's)."""

    __tablename__ = "baselines"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    snapshot_id: Mapped[str] = mapped_column(ForeignKey("snapshots.id"))
    created_at: Mapped[datetime]
    # Digits and date words masked: the similarity score is computed on this form.
    normalized_text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    final_url: Mapped[str | None] = mapped_column(Text)
    # Literal form (figures and names kept; archiver.check.text.literal) and which
    # ("article-1": extracted article body, "page-1": whole visible text). NULL in rows
    # made before numbers counted (migration 0010): filled from the WARC at next check.
    main_text: Mapped[str | None] = mapped_column(Text)
    text_form: Mapped[str | None] = mapped_column(String(16))


class HostProfile(Base):
    """How a host answers a URL that cannot exist (soft-404 detection), refreshed now
    and then."""

    __tablename__ = "host_profiles"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    checked_at: Mapped[datetime]
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    normalized_text: Mapped[str] = mapped_column(Text)


class Notification(Base):
    """One state change (or degraded run) to tell the operator about, per channel
    ("webhook", "email"); sent in batches, retried with back-off until delivered."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_notifications_pending", "delivered_at", "next_attempt_at"),)
