"""Timestamp requests are bounded: a TSA that drips its answer one byte at a time (every
read well inside any per-read timeout) is given up at ``integrity.tsa_timeout``, all
included, and the stamp stays pending with back-off; a pass that is stopping abandons
the request in flight at once and leaves the stamp as due as it was."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from archiver.app import Archive
from archiver.config import Settings
from archiver.integrity.timestamp import PendingTimestamp, TimestampClient
from archiver.models import TimestampRecord
from tests.conftest import REPORT_001, FixedClock
from tests.support.httpserver import drip_server

DIGEST = hashlib.sha256(b"a manifest").hexdigest()
MARGIN = 5.0  # beyond the deadline; the drip goes on for a minute


def _stamps(archive: Archive) -> list[TimestampRecord]:
    with archive.db.session() as session:
        rows = list(session.scalars(select(TimestampRecord).order_by(TimestampRecord.id)))
        session.expunge_all()
        return rows


def test_a_dripping_tsa_is_given_up_at_tsa_timeout() -> None:
    with drip_server() as tsa:
        client = TimestampClient([tsa.url], timeout=1)
        started = time.monotonic()
        [result] = client.stamp(DIGEST)
        took = time.monotonic() - started
        client.close()
    assert isinstance(result, PendingTimestamp)
    assert result.reason == "no answer within 1s (integrity.tsa_timeout)"
    assert took < 1 + MARGIN, took


def test_the_stamping_pass_ends_at_tsa_timeout_and_retries_later(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    with drip_server() as tsa:
        settings = make_settings(integrity__tsa_urls=f'["{tsa.url}"]', integrity__tsa_timeout="1")
        with Archive.open(settings, clock=clock) as archive:
            archive.add(str(REPORT_001))  # a custody entry: a head is due, then its stamp
            started = time.monotonic()
            summary = archive.stamp_pending()
            took = time.monotonic() - started
            [stamp] = _stamps(archive)
    assert took < 1 + MARGIN, took
    assert (summary.granted, summary.pending, summary.abandoned) == (0, 1, False)
    assert (stamp.status, stamp.attempts) == ("pending", 1)
    assert stamp.last_error == "no answer within 1s (integrity.tsa_timeout)"
    assert stamp.next_attempt_at is not None and stamp.next_attempt_at > clock()


def test_a_stopping_pass_abandons_the_request_in_flight(
    make_settings: Callable[..., Settings], clock: FixedClock, tmp_path: Path
) -> None:
    with drip_server() as tsa:
        settings = make_settings(integrity__tsa_urls=f'["{tsa.url}"]', integrity__tsa_timeout="60")
        with Archive.open(settings, clock=clock) as archive:
            archive.add(str(REPORT_001))
            stopping = threading.Event()

            def stop_once_asked() -> None:
                end = time.monotonic() + 60
                while tsa.requests == 0 and time.monotonic() < end:
                    time.sleep(0.01)
                stopping.set()

            threading.Thread(target=stop_once_asked, daemon=True).start()
            started = time.monotonic()
            summary = archive.integrity.stamp_pending(should_stop=stopping.is_set)
            took = time.monotonic() - started
            [stamp] = _stamps(archive)
    assert tsa.requests == 1
    assert took < MARGIN, took
    assert summary.abandoned and (summary.granted, summary.pending) == (0, 0)
    # Not an attempt: as due as before, asked again by the next pass.
    assert (stamp.status, stamp.attempts, stamp.next_attempt_at) == ("pending", 0, clock())
    assert stamp.last_error is None
