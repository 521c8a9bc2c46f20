"""Per-source claims (archiver.store.leases) on real SQLite and real PostgreSQL: two
claimers never get the same source, an expired claim can be taken, renewal keeps it,
release clears it; and the capture and check runners skip what another runner holds,
named sources included (docs/capture.md and docs/recheck.md, "One runner per source").

Processes that start together, and one killed mid-capture, are in
tests/e2e/test_one_runner_per_source.py."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.app import Archive
from archiver.config import Settings
from archiver.models import Observation, Snapshot, Source
from archiver.store.db import Database
from archiver.store.leases import Claims, new_owner
from tests.conftest import FixedClock
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401

LEASE = 300.0
URLS = [f"https://outlet{n % 4}.example.kz/news/{n}.html" for n in range(6)]


@pytest.fixture
def db(database_url: str, clock: FixedClock) -> Iterator[Database]:
    """A database with 200 sources."""
    database = Database.open(database_url)
    with database.session() as session:
        for n in range(200):
            session.add(
                Source(
                    url=f"https://example.kz/{n}",
                    url_sha256=f"{n:064x}",
                    platform="news",
                    kind="article",
                    state_since=clock(),
                    first_seen_at=clock(),
                )
            )
    yield database
    database.close()


def _ids(db: Database) -> list[int]:
    with db.session() as session:
        return list(session.scalars(select(Source.id).order_by(Source.id)))


def _owners(db: Database) -> dict[int, str | None]:
    with db.session() as session:
        return {i: owner for i, owner in session.execute(select(Source.id, Source.lease_owner))}


def _claims(db: Database, clock: FixedClock, owner: str | None = None) -> Claims:
    return Claims(db, clock=clock, lease=LEASE, owner=owner)


def test_the_owner_names_host_and_process() -> None:
    owner = new_owner()
    host, pid, token = owner.rsplit(":", 2)
    assert host and token and int(pid) == os.getpid()
    assert len(owner) <= 64 and new_owner() != owner


def test_two_claimers_never_get_the_same_source(db: Database, clock: FixedClock) -> None:
    ids = _ids(db)
    claimers = [_claims(db, clock, owner=f"host:{n}:claimer") for n in range(6)]
    got: list[set[int]] = [set() for _ in claimers]
    start = threading.Barrier(len(claimers))

    def claim_all(index: int) -> None:
        order = ids[:]
        random.Random(index).shuffle(order)
        start.wait()
        for at in range(0, len(order), 7):
            got[index] |= claimers[index].claim(order[at : at + 7])

    threads = [threading.Thread(target=claim_all, args=(i,)) for i in range(len(claimers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(g) for g in got) == len(ids)
    assert set().union(*got) == set(ids)
    owners = _owners(db)
    for claimer, mine in zip(claimers, got, strict=True):
        assert claimer.held == mine
        assert claimer.refused == set(ids) - mine
        assert {i for i, owner in owners.items() if owner == claimer.owner} == mine


def test_an_expired_claim_can_be_taken(db: Database, clock: FixedClock) -> None:
    ids = _ids(db)[:10]
    dead, other = _claims(db, clock, "host:1:dead"), _claims(db, clock, "host:2:alive")
    assert dead.claim(ids) == set(ids)
    # The first runner dies without releasing: its claims hold until they expire.
    assert other.claim(ids) == set() and other.refused == set(ids)
    clock.advance(seconds=LEASE - 1)
    assert other.claim(ids) == set()
    clock.advance(seconds=2)
    assert other.claim(ids) == set(ids)
    assert set(_owners(db).values()) == {None, "host:2:alive"}
    # The dead runner, had it only stalled, finds its claims lost, and releasing them
    # leaves the new holder's alone.
    dead.renew()
    assert dead.held == set()
    dead.release(ids)
    dead.release_all()
    assert {i for i, o in _owners(db).items() if o} == set(ids)


def test_renewal_keeps_a_claim_and_release_clears_it(db: Database, clock: FixedClock) -> None:
    ids = _ids(db)[:5]
    first, second = _claims(db, clock, "host:1:first"), _claims(db, clock, "host:2:second")
    assert first.claim(ids) == set(ids)
    clock.advance(seconds=LEASE * 2 / 3)
    first.renew()
    clock.advance(seconds=LEASE * 2 / 3)  # past the first claim's end, not the renewed
    assert second.claim(ids) == set()
    with db.session() as session:
        until = set(session.scalars(select(Source.lease_until).where(Source.id.in_(ids))))
    assert until == {clock() - timedelta(seconds=LEASE * 2 / 3) + timedelta(seconds=LEASE)}
    # Claimed twice (a check re-capturing a source it holds): held until both release.
    assert first.claim(ids[:2]) == set(ids[:2])
    first.release(ids)
    assert {i for i, o in _owners(db).items() if o} == set(ids[:2])
    assert second.claim(ids) == set(ids[2:])
    first.release(ids[:2])
    with db.session() as session:
        rows = session.execute(
            select(Source.lease_owner, Source.lease_until).where(Source.id.in_(ids[:2]))
        ).all()
    assert [tuple(r) for r in rows] == [(None, None), (None, None)]
    assert first.held == set()
    second.release_all()
    assert set(_owners(db).values()) == {None}


# -- the runners ------------------------------------------------------------------------


@pytest.fixture
def archive(
    simweb: SimulatedWeb,  # noqa: F811
    make_settings: Callable[..., Settings],
    database_url: str,
    clock: FixedClock,
    tmp_path: Path,
) -> Iterator[Archive]:
    for n, url in enumerate(URLS):
        simweb.page(url, f"<title>News {n}</title><article><p>{n} detained.</p></article>")
    settings = make_settings(
        database_url,
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        capture__modes='{default = ["http"]}',
        check__confirm_after="0",
    )
    report = tmp_path / "r.txt"
    lines = [f"Claim {i}[{i}]." for i in range(1, len(URLS) + 1)]
    report.write_text("\n\n".join(lines + [f"[{i}]{u}" for i, u in enumerate(URLS, 1)]))
    with Archive.open(settings, clock=clock) as opened:
        opened.add(str(report))
        yield opened


def _source_ids(archive: Archive) -> dict[str, int]:
    with archive.db.session() as session:
        return {url: i for url, i in session.execute(select(Source.url, Source.id))}


def _count(archive: Archive, model: type[Snapshot] | type[Observation], **where: str) -> int:
    with archive.db.session() as session:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return len(session.scalars(query).all())


@pytest.mark.slow
def test_capture_skips_what_another_runner_holds_until_its_claim_expires(
    archive: Archive, clock: FixedClock
) -> None:
    ids = _source_ids(archive)
    held = [ids[URLS[0]], ids[URLS[1]]]
    # Another runner took two sources, then died (it never releases them).
    other = archive.capture_runner()
    assert [s.id for s in other.take(source_ids=held)[0]] == held
    skipped: list[int] = []
    done = archive.capture(on_skipped=skipped.append)
    assert sorted(o.url for o in done) == sorted(URLS[2:])
    assert skipped == [2]
    # Named explicitly, a held source is still skipped.
    skipped.clear()
    assert archive.capture(source_ids=[held[0]], on_skipped=skipped.append) == []
    assert skipped == [1]
    assert _count(archive, Snapshot) == len(URLS) - 2
    assert {o for o in _owners(archive.db).values() if o} == {other.claims.owner}
    # Its claims expire: another runner captures them, and releases them.
    clock.advance(seconds=archive.settings.capture.lease + 1)
    skipped.clear()
    again = archive.capture(on_skipped=skipped.append)
    assert sorted(o.source_id for o in again) == held and skipped == []
    assert _count(archive, Snapshot) == len(URLS)
    assert set(_owners(archive.db).values()) == {None}


@pytest.mark.slow
def test_check_skips_what_another_runner_holds(archive: Archive, clock: FixedClock) -> None:
    archive.capture()
    ids = _source_ids(archive)
    held = ids[URLS[0]]
    other = Claims(archive.db, clock=clock, lease=LEASE, owner="elsewhere:1:runner")
    assert other.claim([held]) == {held}
    skipped: list[int] = []
    reports = archive.check(everything=True, on_skipped=skipped.append)
    checked = {o.source_id for r in reports for o in r.outcomes}
    assert checked == set(ids.values()) - {held} and skipped == [1]
    skipped.clear()
    assert archive.check(source_ids=[held], on_skipped=skipped.append) == []
    assert skipped == [1]
    with archive.db.session() as session:
        seen = session.scalars(
            select(Observation.source_id).where(Observation.via == "check")
        ).all()
    assert held not in seen and len(seen) == len(URLS) - 1
    # The check released what it held; the other runner's claim is untouched.
    assert {i for i, o in _owners(archive.db).items() if o} == {held}
    other.release_all()
    reports = archive.check(source_ids=[held])
    assert [o.source_id for r in reports for o in r.outcomes] == [held]
    assert set(_owners(archive.db).values()) == {None}
