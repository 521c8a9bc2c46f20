"""Which sources are due for a capture (one query condition, shared by the capture
runner, its progress count and the operations page, so they never disagree)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select

from archiver.models import Snapshot, Source


def due_condition(now: datetime) -> ColumnElement[bool]:
    """Sources whose capture is due: never preserved and not waiting for a retry, or
    with a retry time that has come (a failed capture, retried with back-off; a
    preserved snapshot lacking a part, captured again for it as a new snapshot)."""
    preserved = select(Snapshot.source_id).where(
        Snapshot.http_status >= 200, Snapshot.http_status < 300
    )
    return or_(
        Source.next_capture_at <= now,
        and_(Source.next_capture_at.is_(None), Source.id.not_in(preserved)),
    )
