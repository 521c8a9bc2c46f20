"""The witness's copy against ours: once Save Page Now made its copy, its raw bytes are
fetched (``id_``) and its main text compared with our snapshot's, as the re-check
compares a live page with the baseline (archiver.check.text: the same extraction, the
same normalisation, ``check.min_similarity``).

"matches our snapshot" is corroboration by an independent archive; "differs" is worth a
look (a page that serves archives another text, or content that changed between the
two captures). Nothing of the witness's copy is kept: the archive holds it at its
memento URL. A copy the archive does not replay yet (new captures can take a while to be
indexed) is tried again hourly, and given up after :data:`GIVE_UP_AFTER`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from archiver.capture.http import Fetcher, decode
from archiver.check import text as texts
from archiver.check._store import _baseline_text
from archiver.check.probe import charset_of
from archiver.config import Settings
from archiver.models import LiveWitness, Snapshot
from archiver.storage import open_store
from archiver.store.db import Database
from archiver.witnesses.timemap import raw_url

log = logging.getLogger(__name__)

RETRY_EVERY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(days=2)
_PAGE_BYTES = 16 * 1024 * 1024


def verdict(similarity: float, threshold: float) -> str:
    if similarity >= threshold:
        return f"matches our snapshot (main text {similarity:.0%} similar)"
    return f"differs from our snapshot (main text {similarity:.0%} similar)"


async def compare_due(
    settings: Settings,
    db: Database,
    fetcher: Fetcher,
    clock: Callable[[], datetime],
    *,
    limit: int = 20,
) -> int:
    """Compare the finished witnesses due; returns how many were compared."""
    now = clock()
    with db.session() as session:
        rows = session.execute(
            select(LiveWitness, Snapshot)
            .join(Snapshot, Snapshot.id == LiveWitness.snapshot_id)
            .where(LiveWitness.status == "done", LiveWitness.compared_at.is_(None))
            .where(LiveWitness.memento_url.is_not(None))
            .where(LiveWitness.next_attempt_at.is_(None) | (LiveWitness.next_attempt_at <= now))
            .limit(limit)
        ).all()
        session.expunge_all()
    compared = 0
    for witness, snapshot in rows:
        assert witness.memento_url is not None
        deadline = time.monotonic() + settings.witnesses.timeout
        chain = await fetcher.fetch_chain(raw_url(witness.memento_url), deadline=deadline)
        last = chain[-1]
        theirs: str | None = None
        problem = None
        if last.failure is not None:
            problem = (last.failure.message.splitlines() or ["failed"])[0]
        elif last.status is None or not 200 <= last.status < 300:
            problem = f"the archive answered HTTP {last.status}"
        else:
            data = decode(last, _PAGE_BYTES).data
            html = data.decode(charset_of(last.header("content-type"), data), "replace")
            theirs = texts.extract(html).normalized
        for hop in chain:
            hop.close()
        ours = None
        if theirs is not None:
            ours = await asyncio.to_thread(_baseline_text, open_store(settings), snapshot)
        _record(db, witness.id, theirs, ours, problem, settings, clock())
        compared += theirs is not None and ours is not None
    return compared


def _record(
    db: Database,
    row_id: int,
    theirs: str | None,
    ours: texts.Extracted | None,
    problem: str | None,
    settings: Settings,
    now: datetime,
) -> None:
    with db.session() as session:
        row = session.get(LiveWitness, row_id)
        assert row is not None
        if theirs is not None and ours is not None:
            row.similarity = texts.similarity(ours.normalized, theirs)
            row.comparison = verdict(row.similarity, settings.check.min_similarity)
            row.compared_at, row.next_attempt_at = now, None
            return
        reason = problem or "our snapshot's text could not be read"
        if row.finished_at is not None and now - row.finished_at >= GIVE_UP_AFTER:
            row.comparison, row.compared_at, row.next_attempt_at = (
                f"not compared: {reason}",
                now,
                None,
            )
        else:
            row.comparison, row.next_attempt_at = f"not compared yet: {reason}", now + RETRY_EVERY
        log.info("witness %s of snapshot %s: %s", row.memento_url, row.snapshot_id, row.comparison)
