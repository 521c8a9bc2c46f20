"""One capture or check of a source at a time, whatever runs: per-source claims (leases).

Before a runner captures or checks a source it claims it in the database: it writes
itself (``lease_owner``: host, pid and a random token of this runner) and a time
(``lease_until``) into the source's row, in one atomic statement that succeeds only
where nobody else holds a claim that has not expired. Another runner (a second
``archiver capture``, the daemon, a worker on another machine) skips claimed sources.
A claim is released as soon as the source's capture or check is recorded, renewed
every third of its length while the runner works (so a long run never loses it), and
simply expires when the runner dies (``kill -9``, a lost machine): ``lease`` after
its last renewal the source can be taken again.

- PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` of the free rows, then the claim
  written in the same transaction (a row another claimer is writing is skipped, not
  waited for).
- SQLite: one conditional ``UPDATE ... WHERE (free) RETURNING id``; SQLite runs one
  writer at a time, so the condition and the write are one atomic step.

Within one runner, claims are counted: a runner that holds a source and hands it to
another piece of work that claims it too (a check re-capturing an altered source) keeps
it until both have released it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from archiver.models import Source
from archiver.store.db import Database

log = logging.getLogger(__name__)

OWNER_MAX = 64  # sources.lease_owner is String(64)
# Ids per statement: far below SQLite's and PostgreSQL's limits on bound parameters.
_CHUNK = 500


def new_owner() -> str:
    """A name unique to one runner: ``host:pid:token`` (the host cut to fit 64
    characters), so an operator reading the database sees who holds a source."""
    tail = f":{os.getpid()}:{secrets.token_hex(6)}"
    return socket.gethostname()[: OWNER_MAX - len(tail)] + tail


def claimable(owner: str, now: datetime) -> ColumnElement[bool]:
    """Sources nobody else holds now: never claimed, released, expired, or ours."""
    return or_(Source.lease_until.is_(None), Source.lease_until < now, Source.lease_owner == owner)


def held_elsewhere(owner: str, now: datetime) -> ColumnElement[bool]:
    """Sources another runner holds now (a claim that has not expired)."""
    return and_(
        Source.lease_until.is_not(None),
        Source.lease_until >= now,
        or_(Source.lease_owner.is_(None), Source.lease_owner != owner),
    )


def claim_rows(
    session: Session, ids: Sequence[int], owner: str, now: datetime, until: datetime
) -> list[int]:
    """Claim the sources ``ids`` that nobody else holds, for ``owner`` until ``until``;
    the ids got. Atomic on both databases (see the module's docstring)."""
    if not ids:
        return []
    wanted = and_(Source.id.in_(list(ids)), claimable(owner, now))
    if session.get_bind().dialect.name == "postgresql":
        free = list(
            session.scalars(
                select(Source.id)
                .where(wanted)
                .order_by(Source.id)
                .with_for_update(skip_locked=True)
            )
        )
        if free:
            session.execute(
                update(Source)
                .where(Source.id.in_(free))
                .values(lease_owner=owner, lease_until=until)
            )
        return free
    got = session.scalars(
        update(Source)
        .where(wanted)
        .values(lease_owner=owner, lease_until=until)
        .returning(Source.id)
    )
    return sorted(got)


def release_rows(session: Session, ids: Sequence[int], owner: str) -> None:
    """Clear ``owner``'s claims on ``ids`` (a claim another runner took meanwhile, after
    ours expired, is left alone)."""
    if ids:
        session.execute(
            update(Source)
            .where(Source.id.in_(list(ids)), Source.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


def release_this_process(db: Database) -> None:
    """Clear every claim a runner of this process holds (owners :func:`new_owner` made
    here: this host and pid), for a process about to exit before its runners released
    them (``archiver run`` cut off at its stop deadline): its sources are free at once
    for the next start instead of after ``lease``."""
    mine = new_owner()
    prefix = mine[: mine.rindex(":") + 1]
    with db.session() as session:
        session.execute(
            update(Source)
            .where(Source.lease_owner.startswith(prefix, autoescape=True))
            .values(lease_owner=None, lease_until=None)
        )


def renew_rows(session: Session, owner: str, until: datetime) -> set[int]:
    """Move every claim of ``owner`` on to ``until``; the sources it still holds."""
    result = session.scalars(
        update(Source)
        .where(Source.lease_owner == owner)
        .values(lease_until=until)
        .returning(Source.id)
    )
    return set(result)


def held_elsewhere_ids(
    session: Session, where: ColumnElement[bool], owner: str, now: datetime
) -> set[int]:
    """The sources matching ``where`` that another runner holds now."""
    return set(session.scalars(select(Source.id).where(where, held_elsewhere(owner, now))))


class Claims:
    """The claims of one runner: ``owner`` (injectable for tests, else
    :func:`new_owner`), ``lease`` seconds long, times from ``clock``.

    Thread-safe: the capture's database thread releases what it records while the
    event loop claims and renews."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime],
        lease: float,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.lease = lease
        self.owner = owner or new_owner()
        if len(self.owner) > OWNER_MAX:
            raise ValueError(f"lease owner longer than {OWNER_MAX} characters: {self.owner!r}")
        # Sources refused because another runner held them, over this object's life.
        self.refused: set[int] = set()
        self._held: Counter[int] = Counter()
        # Claimed by one step (choosing work) for the next to take over (doing it).
        self._handed: set[int] = set()
        self._lock = threading.Lock()

    def holds(self, source_id: int) -> bool:
        # No lock: asked on the event loop, which must not wait for a database call
        # made under it; one dict lookup is atomic in CPython.
        return self._held.get(source_id, 0) > 0

    @property
    def held(self) -> set[int]:
        with self._lock:
            return {k for k, n in self._held.items() if n > 0}

    def claim(self, ids: Iterable[int]) -> set[int]:
        """Claim ``ids``; the ones this runner now holds. Sources it held already are
        counted once more (each claim is released once); the rest are claimed in the
        database, where another runner's claim makes them refused."""
        wanted = list(dict.fromkeys(ids))
        with self._lock:
            again = [i for i in wanted if self._held[i] > 0]
            for source_id in again:
                self._held[source_id] += 1
            new = [i for i in wanted if self._held[i] == 0]
            got: set[int] = set()
            now = self.clock()
            until = now + timedelta(seconds=self.lease)
            for start in range(0, len(new), _CHUNK):
                with self.db.session() as session:
                    got.update(
                        claim_rows(session, new[start : start + _CHUNK], self.owner, now, until)
                    )
            for source_id in got:
                self._held[source_id] = 1
            refused = set(new) - got
            self.refused |= refused
        if refused:
            log.info("skipped %d sources another runner holds", len(refused))
        return got | set(again)

    def hand_over(self, ids: Iterable[int]) -> set[int]:
        """Claim ``ids`` for a later :meth:`take_over`; the ones got."""
        got = self.claim(ids)
        with self._lock:
            self._handed |= got
        return got

    def take_over(self, ids: Iterable[int]) -> set[int]:
        """The claims handed over for ``ids``, and fresh claims on the others; the ones
        held now. Each is released once."""
        wanted = set(ids)
        with self._lock:
            handed = self._handed & wanted
            self._handed -= handed
        return handed | self.claim(wanted - handed)

    def release(self, ids: Iterable[int]) -> None:
        """Give back one claim on each of ``ids``; a source whose last claim this was
        is released in the database. Never raises: a claim not released expires."""
        with self._lock:
            done = []
            for source_id in dict.fromkeys(ids):
                if self._held[source_id] <= 0:
                    continue
                self._held[source_id] -= 1
                if self._held[source_id] == 0:
                    del self._held[source_id]
                    done.append(source_id)
            self._release(done)

    def release_all(self) -> None:
        """Give back every claim this runner holds, however many times claimed."""
        with self._lock:
            done = [k for k, n in self._held.items() if n > 0]
            self._held.clear()
            self._release(done)

    def _release(self, ids: list[int]) -> None:
        try:
            for start in range(0, len(ids), _CHUNK):
                with self.db.session() as session:
                    release_rows(session, ids[start : start + _CHUNK], self.owner)
        except Exception:  # the claims expire by themselves
            log.warning("could not release %d claims; they expire", len(ids), exc_info=True)

    def renew(self) -> None:
        """Extend every claim this runner holds to ``lease`` from now. A claim found
        lost (it expired while this process stalled, and another runner took it) is
        dropped: the work not started on it yet is left to the other runner."""
        with self._lock:
            if not self._held:
                return
            until = self.clock() + timedelta(seconds=self.lease)
            with self.db.session() as session:
                still = renew_rows(session, self.owner, until)
            lost = [k for k in self._held if k not in still]
            for source_id in lost:
                del self._held[source_id]
        if lost:
            log.warning("%d claims expired before renewal; another runner may hold them", len(lost))

    @contextlib.asynccontextmanager
    async def renewing(self) -> AsyncIterator[None]:
        """Renew this runner's claims every third of the lease while the block runs."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.lease / 3)
                try:
                    await asyncio.to_thread(self.renew)
                except Exception:  # tried again at the next beat
                    log.warning("renewing claims failed", exc_info=True)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @contextlib.asynccontextmanager
    async def holding(self, ids: Iterable[int]) -> AsyncIterator[set[int]]:
        """Claim ``ids`` for the block (the ones got), renewed while it runs, released
        after it."""
        got = await asyncio.to_thread(self.claim, list(ids))
        try:
            async with self.renewing():
                yield got
        finally:
            await asyncio.to_thread(self.release, got)
