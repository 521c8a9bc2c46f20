"""Sealing at capture and stamping afterwards: offline TSAs leave stamps pending with
back-off, a later pass obtains them, a stored token is never replaced; keys are
created and rotated with custody entries; custody heads are sealed when due."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from archiver.app import Archive
from archiver.integrity import custody
from archiver.integrity.custody import verify_stored_chain
from archiver.integrity.keys import verify
from archiver.integrity.timestamp import verify_token
from archiver.integrity.verify_store import verify_store
from archiver.models import CustodyEvent, CustodyHead, SnapshotSeal, TimestampRecord
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.integrity.package_fixtures import (
    Sealed,
    integrity_settings,
    sealed_archive,
)


@pytest.fixture
def sealed(tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa) -> Iterator[Sealed]:
    with sealed_archive(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", clock, local_tsa) as done:
        yield done


def _stamps(sealed: Sealed) -> list[TimestampRecord]:
    with sealed.archive.db.session() as session:
        rows = session.scalars(select(TimestampRecord).order_by(TimestampRecord.id)).all()
        session.expunge_all()
        return list(rows)


def test_capture_seals_the_snapshot_in_its_own_transaction(sealed: Sealed) -> None:
    archive = sealed.archive
    keys = archive.integrity.keys()
    with archive.db.session() as session:
        seal = session.get(SnapshotSeal, sealed.snapshot_id)
        assert seal is not None
        events = session.scalars(select(CustodyEvent).order_by(CustodyEvent.seq)).all()
        assert [(e.action, e.actor) for e in events] == [
            ("report_added", "system"),
            ("key_created", "cli:tester"),
            ("capture", "cli:tester"),
        ]
        assert events[2].details["manifest_sha256"] == seal.manifest_sha256
        assert events[1].subject_id == keys.fingerprint == seal.key_fingerprint
    assert verify(keys.public_key_pem(), seal.manifest, seal.signature)
    [manifest_stamp, head_stamp] = _stamps(sealed)
    assert (manifest_stamp.subject_type, manifest_stamp.status) == ("snapshot", "granted")
    assert manifest_stamp.digest == seal.manifest_sha256 and manifest_stamp.attempts == 1
    assert manifest_stamp.token is not None
    check = verify_token(manifest_stamp.token, bytes.fromhex(seal.manifest_sha256))
    assert check.tsa_subject == "CN=Test TSA"
    assert head_stamp.subject_type == "custody_head"


def test_an_offline_tsa_leaves_stamps_pending_with_back_off_until_it_returns(
    tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa
) -> None:
    local_tsa.mode = "http500"
    database = f"sqlite:///{tmp_path / 'a.db'}"
    # The fixture insists on stamps; here the TSA is down.
    with (
        pytest.raises(AssertionError, match=r"\[.*HTTP 500"),
        sealed_archive(tmp_path, database, clock, local_tsa),
    ):
        pass
    settings = integrity_settings(
        tmp_path / "storage", f"sqlite:///{tmp_path / 'a.db'}", [local_tsa.url]
    )
    with Archive.open(settings, clock=clock) as archive:
        rows = _all(archive)
        assert {(r.subject_type, r.status, r.attempts) for r in rows} == {
            ("snapshot", "pending", 1),
            # Not asked: the TSA had failed already in this pass.
            ("custody_head", "pending", 0),
        }
        assert all(r.next_attempt_at == clock.now + timedelta(minutes=1) for r in rows)
        assert all("HTTP 500" in (r.last_error or "") for r in rows)
        asked = len(local_tsa.requests)
        # Not due yet: nothing is asked.
        assert archive.stamp_pending().pending == 0 and len(local_tsa.requests) == asked
        clock.advance(minutes=1)
        summary = archive.stamp_pending()
        assert (summary.granted, summary.pending) == (0, 2)
        # The TSA failed on the first stamp, so the second was not asked in this pass.
        assert len(local_tsa.requests) == asked + 1
        rows = _all(archive)
        assert [r.attempts for r in rows] == [2, 0]
        assert rows[0].next_attempt_at == clock.now + timedelta(minutes=2)
        local_tsa.mode = "ok"
        clock.advance(minutes=2)
        summary = archive.stamp_pending()
        assert (summary.granted, summary.pending) == (2, 0)
        rows = _all(archive)
        assert [r.status for r in rows] == ["granted", "granted"]
        assert not verify_store(archive).failed


def _all(archive: Archive) -> list[TimestampRecord]:
    with archive.db.session() as session:
        rows = session.scalars(select(TimestampRecord).order_by(TimestampRecord.id)).all()
        session.expunge_all()
        return list(rows)


def test_a_stored_token_is_never_replaced(sealed: Sealed) -> None:
    [stamp, _head] = _stamps(sealed)
    before = stamp.token
    archive = sealed.archive
    # Even if a row were made pending again by hand, a granted one is not rewritten...
    sealed.clock.advance(days=1)
    archive.stamp_pending()
    assert _stamps(sealed)[0].token == before
    # ...and the guard in the update only ever fills a pending row.
    with archive.db.session() as session:
        changed = session.execute(
            update(TimestampRecord)
            .where(TimestampRecord.id == stamp.id, TimestampRecord.status == "pending")
            .values(token=b"x")
        )
        assert changed.rowcount == 0  # type: ignore[attr-defined]


def test_a_token_for_another_digest_is_refused_and_stays_pending(
    tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa
) -> None:
    local_tsa.mode = "wrong-digest"
    database = f"sqlite:///{tmp_path / 'a.db'}"
    with (
        pytest.raises(AssertionError, match="message imprint is not our digest"),
        sealed_archive(tmp_path, database, clock, local_tsa),
    ):
        pass


def test_key_rotation_is_logged_and_old_signatures_still_verify(sealed: Sealed) -> None:
    archive = sealed.archive
    old = archive.integrity.keys().fingerprint
    event = archive.integrity.rotate_key("cli:admin", "yearly rotation")
    assert event.previous == old and event.fingerprint != old
    with archive.db.session() as session:
        last = session.scalars(select(CustodyEvent).order_by(CustodyEvent.seq.desc())).first()
        assert last is not None
        assert (last.action, last.actor, last.subject_id) == (
            "key_rotated",
            "cli:admin",
            event.fingerprint,
        )
        assert last.details == {
            "fingerprint": event.fingerprint,
            "previous": old,
            "reason": "yearly rotation",
        }
        assert verify_stored_chain(session).ok
    # The old snapshot's seal still verifies (with the old key, kept on disk).
    assert not verify_store(archive).failed
    # New seals use the new key.
    head = archive.integrity.seal_custody_head()
    assert head is not None and head.key_fingerprint == event.fingerprint


def test_custody_heads_are_sealed_when_due_and_only_when_the_log_grew(sealed: Sealed) -> None:
    archive, clock = sealed.archive, sealed.clock

    def heads() -> list[tuple[int, str]]:
        with archive.db.session() as session:
            return [
                (h.seq, h.head_hash)
                for h in session.scalars(select(CustodyHead).order_by(CustodyHead.id))
            ]

    assert [seq for seq, _ in heads()] == [3]  # sealed by the first stamping pass
    clock.advance(days=2)
    archive.stamp_pending()
    assert [seq for seq, _ in heads()] == [3]  # the log did not grow: no new head
    archive.integrity.rotate_key("cli:admin")  # entry 4
    # A new key's first signature is a head covering its own entry, sealed at once.
    assert [seq for seq, _ in heads()] == [3, 4]
    with archive.db.session() as session:  # entry 5
        custody.append(session, at=clock(), actor="t", action="download", subject_type="x")
    clock.advance(hours=1)
    archive.stamp_pending()
    assert [seq for seq, _ in heads()] == [3, 4]  # interval (1 day) not over yet
    clock.advance(days=1)
    archive.stamp_pending()
    assert [seq for seq, _ in heads()] == [3, 4, 5]


def test_cli_keys_and_stamp_commands(sealed: Sealed) -> None:
    from click.testing import CliRunner

    from archiver.cli import main

    settings = sealed.archive.settings
    env = {
        "ARCHIVER_STORAGE__ROOT": str(settings.storage.root),
        "ARCHIVER_STORAGE__DATABASE_URL": settings.storage.database_url,
        "ARCHIVER_INTEGRITY__TSA_URLS": f'["{sealed.tsa.url}"]',
    }
    runner = CliRunner(env=env)
    old = sealed.archive.integrity.keys().fingerprint
    shown = runner.invoke(main, ["keys", "show"])
    assert shown.exit_code == 0 and f"fingerprint: {old}" in shown.output
    assert "BEGIN PUBLIC KEY" in shown.output and "PRIVATE" not in shown.output
    rotated = runner.invoke(main, ["keys", "rotate", "--reason", "test"])
    assert rotated.exit_code == 0 and f"(was {old})" in rotated.output
    stamped = runner.invoke(main, ["stamp", "--head"])
    assert stamped.exit_code == 0, stamped.output
    assert "custody head 2: entry 4" in stamped.output
    assert "timestamps: 1 obtained, 0 still pending" in stamped.output
    with sealed.archive.db.session() as session:
        last = session.scalars(select(CustodyEvent).order_by(CustodyEvent.seq.desc())).first()
        assert last is not None and last.action == "key_rotated" and last.actor.startswith("cli")
