"""The default clock. Everything that stamps a time takes a clock argument defaulting to
this, so tests can pass a fixed one and assert exact outputs."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
