"""Stamps still pending: catching up, and saying so.

- :func:`retarget`: a stamp pending against a TSA that is no longer configured
  (``integrity.tsa_urls`` changed) would wait for ever. It is *retired* (status
  ``retired``, with the reason; a row is never deleted) and the same digest is asked of
  every configured TSA it has no stamp from yet.
- :func:`make_due`: ``archiver stamp`` run by hand asks for every pending stamp now,
  instead of waiting out the back-off of the automatic passes.
- :func:`pending_summary`, :func:`stamp_counts`: what ``archiver status`` and the pages
  show.
- :func:`package_stamped`: whether an exported package holds a trusted timestamp of
  its manifest (``archiver export`` warns when it does not).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from archiver.models import TimestampRecord
from archiver.store.db import Database, insert_rows

RETIRED = "retired"
# Ids per query (SQLite bound-parameter limits).
_CHUNK = 500


def retarget(db: Database, tsa_urls: Sequence[str], now: datetime) -> int:
    """Retire the pending stamps of TSAs no longer configured and ask the configured
    ones instead (new pending rows, due at once); return how many were retired. With no
    TSA configured, nothing is touched."""
    from archiver.integrity.seal import pending_stamps  # signing is not needed to count

    urls = tuple(dict.fromkeys(tsa_urls))
    if not urls:
        return 0
    with db.session() as session:
        stale = session.execute(
            select(
                TimestampRecord.id,
                TimestampRecord.subject_type,
                TimestampRecord.subject_id,
                TimestampRecord.digest,
                TimestampRecord.tsa_url,
            ).where(TimestampRecord.status == "pending", TimestampRecord.tsa_url.not_in(urls))
        ).all()
        if not stale:
            return 0
        digests = {row.digest for row in stale}
        have = set(
            session.execute(
                select(TimestampRecord.digest, TimestampRecord.tsa_url).where(
                    TimestampRecord.digest.in_(digests)
                )
            ).tuples()
        )
        rows: list[dict[str, Any]] = []
        for subject in dict.fromkeys((r.subject_type, r.subject_id, r.digest) for r in stale):
            missing = [u for u in urls if (subject[2], u) not in have]
            rows += pending_stamps(*subject, missing, now)
            have.update((subject[2], u) for u in missing)
        for row in stale:
            session.execute(
                update(TimestampRecord)
                .where(TimestampRecord.id == row.id, TimestampRecord.status == "pending")
                .values(
                    status=RETIRED,
                    next_attempt_at=None,
                    last_error=f"{row.tsa_url} is no longer configured (integrity.tsa_urls); "
                    f"asked of {', '.join(urls)} instead",
                )
            )
        if rows:
            insert_rows(session, TimestampRecord, rows)
    return len(stale)


def make_due(db: Database, now: datetime) -> int:
    """Every pending stamp due now (its back-off waived); return how many there are."""
    with db.session() as session:
        session.execute(
            update(TimestampRecord)
            .where(TimestampRecord.status == "pending")
            .values(next_attempt_at=now)
        )
        return int(
            session.scalar(
                select(func.count())
                .select_from(TimestampRecord)
                .where(TimestampRecord.status == "pending")
            )
            or 0
        )


def pending_summary(session: Session) -> dict[str, Any]:
    """``{"granted", "pending", "pending_since", "next_attempt_at", "last_error"}`` over
    every stamp asked for (manifests and custody heads); times as datetimes."""
    query = select(
        TimestampRecord.status,
        func.count(),
        func.min(TimestampRecord.requested_at),
        func.min(TimestampRecord.next_attempt_at),
    ).group_by(TimestampRecord.status)
    counts = {status: (n, since, due) for status, n, since, due in session.execute(query)}
    granted = counts.get("granted", (0, None, None))[0]
    pending, since, due = counts.get("pending", (0, None, None))
    error = None
    if pending:
        error = session.scalars(
            select(TimestampRecord.last_error)
            .where(TimestampRecord.status == "pending", TimestampRecord.last_error.is_not(None))
            .order_by(TimestampRecord.id.desc())
            .limit(1)
        ).first()
    return {
        "granted": granted,
        "pending": pending,
        "pending_since": since,
        "next_attempt_at": due,
        "last_error": error,
    }


def stamp_counts(
    session: Session, snapshot_ids: Collection[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Per snapshot: ``{"granted", "pending", "pending_since"}`` of its manifest's stamps
    (all snapshots, or those of ``snapshot_ids``); retired stamps are not counted."""
    query = (
        select(
            TimestampRecord.subject_id,
            TimestampRecord.status,
            func.count(),
            func.min(TimestampRecord.requested_at),
        )
        .where(TimestampRecord.subject_type == "snapshot")
        .group_by(TimestampRecord.subject_id, TimestampRecord.status)
    )
    batches: list[Any] = [query]
    if snapshot_ids is not None:
        ids = sorted(snapshot_ids)
        batches = [
            query.where(TimestampRecord.subject_id.in_(ids[at : at + _CHUNK]))
            for at in range(0, len(ids), _CHUNK)
        ]
    counts: dict[str, dict[str, Any]] = {}
    for batch in batches:
        for subject, status, n, since in session.execute(batch):
            if status not in ("granted", "pending"):
                continue
            row = counts.setdefault(
                str(subject), {"granted": 0, "pending": 0, "pending_since": None}
            )
            row[status] = int(n)
            if status == "pending":
                row["pending_since"] = since
    return counts


def package_stamped(package: Path) -> bool:
    """True when the package holds a trusted timestamp (a token) of its manifest."""
    try:
        with zipfile.ZipFile(package) as zf:
            listing = json.loads(zf.read("timestamps/timestamps.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False
    return any(
        isinstance(s, dict) and s.get("subject") == "manifest.json" and s.get("file")
        for s in listing
    )
