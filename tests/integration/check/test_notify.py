"""Notifications: batched webhook POSTs and e-mails, retried until delivered."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select

from archiver.app import Archive
from archiver.check.notify import Notifier, enqueue
from archiver.config import Settings
from archiver.models import Notification
from tests.conftest import FixedClock
from tests.support.httpserver import HTTP_ANSWER, SMTP_GREETING, drip_server
from tests.support.sinks import smtp_server, webhook_server


def change(source_id: int) -> dict[str, object]:
    return {
        "source_id": source_id,
        "url": f"https://kaztag.kz/ru/news/{source_id}",
        "from_state": "live",
        "to_state": "dead",
        "reason": "HTTP 404",
        "diff": [],
    }


def test_webhook_and_email_batched_and_retried(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    with webhook_server() as hook, smtp_server() as mailbox:
        hook.fail_first = 1
        settings = make_settings(
            notify__webhook_url=hook.url,
            notify__smtp_host="127.0.0.1",
            notify__smtp_port=str(mailbox.port),
            notify__smtp_starttls="false",
            notify__smtp_password="s3cret-never-logged",
            notify__email_to='["monitor@example.org"]',
            notify__batch_window="60",
        )
        with Archive.open(settings, clock=clock) as archive:
            with archive.db.session() as session:
                for source_id in (1, 2, 3):
                    enqueue(session, settings.notify, "state_change", change(source_id), clock())
            notifier = Notifier(settings.notify, archive.db, clock=clock)
            # Inside the batch window nothing is sent: changes close in time go together.
            assert notifier.flush() == {}
            clock.advance(seconds=61)
            # The webhook answers 503 once: the batch waits and is retried; e-mail goes.
            assert notifier.flush() == {"email": 3}
            assert hook.received == [] and hook.attempts == 1
            assert notifier.flush() == {}  # not yet: back-off
            clock.advance(seconds=31)
            assert notifier.flush() == {"webhook": 3}
            assert len(hook.received) == 1
            document = hook.received[0]
            assert document["count"] == 3
            assert [e["source_id"] for e in document["events"]] == [1, 2, 3]
            assert len(mailbox.messages) == 1
            message = mailbox.messages[0]
            assert message["To"] == "monitor@example.org"
            assert "3 source state change" in message["Subject"]
            text = message.get_payload()[0].get_payload(decode=True).decode()
            assert "live -> dead: https://kaztag.kz/ru/news/2" in text
            with archive.db.session() as session:
                rows = session.scalars(select(Notification)).all()
                assert len(rows) == 6 and all(r.delivered_at is not None for r in rows)
                webhook_rows = [r for r in rows if r.channel == "webhook"]
                assert all(r.attempts == 2 and "503" in (r.last_error or "") for r in webhook_rows)
                assert all("s3cret" not in (r.last_error or "") for r in rows)
            assert notifier.flush(force=True) == {}


def test_undeliverable_gives_up_after_max_attempts(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    settings = make_settings(
        notify__webhook_url="http://127.0.0.1:9/nothing-listens-here",
        notify__max_attempts="2",
        notify__timeout="2",
    )
    with Archive.open(settings, clock=clock) as archive:
        with archive.db.session() as session:
            enqueue(session, settings.notify, "state_change", change(1), clock())
        notifier = Notifier(settings.notify, archive.db, clock=clock)
        for _ in range(3):
            assert notifier.flush(force=True) == {}
            clock.advance(hours=1)
        with archive.db.session() as session:
            row = session.scalars(select(Notification)).one()
            assert row.attempts == 2 and row.delivered_at is None
            assert "webhook http://127.0.0.1/nothing-listens-here" in (row.last_error or "")


# -- bounded deliveries ------------------------------------------------------------------

MARGIN = 5.0  # beyond the deadline; the drip goes on for a minute


def _rows(archive: Archive) -> list[Notification]:
    with archive.db.session() as session:
        rows = list(session.scalars(select(Notification).order_by(Notification.id)))
        session.expunge_all()
        return rows


@pytest.mark.parametrize("channel", ["webhook", "email"])
def test_a_dripping_server_is_given_up_at_notify_timeout(
    make_settings: Callable[..., Settings], clock: FixedClock, channel: str
) -> None:
    """Each read comes well within the timeout; only a total deadline ends it."""
    with drip_server(answer=SMTP_GREETING if channel == "email" else HTTP_ANSWER) as server:
        where = (
            {"notify__webhook_url": server.url}
            if channel == "webhook"
            else {
                "notify__smtp_host": "127.0.0.1",
                "notify__smtp_port": str(server.port),
                "notify__smtp_starttls": "false",
                "notify__email_to": '["monitor@example.org"]',
            }
        )
        settings = make_settings(notify__timeout="1", **where)
        with Archive.open(settings, clock=clock) as archive:
            with archive.db.session() as session:
                enqueue(session, settings.notify, "state_change", change(1), clock())
            started = time.monotonic()
            assert Notifier(settings.notify, archive.db, clock=clock).flush(force=True) == {}
            took = time.monotonic() - started
            [row] = _rows(archive)
    assert took < 1 + MARGIN, took
    assert row.attempts == 1 and row.delivered_at is None
    assert "no answer within 1s (notify.timeout)" in (row.last_error or ""), row.last_error
    assert row.next_attempt_at > clock()  # retried with back-off


@pytest.mark.parametrize("channel", ["webhook", "email"])
def test_a_stopping_process_abandons_the_delivery_in_flight(
    make_settings: Callable[..., Settings], clock: FixedClock, channel: str
) -> None:
    with drip_server(answer=SMTP_GREETING if channel == "email" else HTTP_ANSWER) as server:
        where = (
            {"notify__webhook_url": server.url}
            if channel == "webhook"
            else {
                "notify__smtp_host": "127.0.0.1",
                "notify__smtp_port": str(server.port),
                "notify__smtp_starttls": "false",
                "notify__email_to": '["monitor@example.org"]',
            }
        )
        settings = make_settings(notify__timeout="60", **where)
        with Archive.open(settings, clock=clock) as archive:
            with archive.db.session() as session:
                enqueue(session, settings.notify, "state_change", change(1), clock())
            [queued] = _rows(archive)
            stopping = threading.Event()

            def stop_once_connected() -> None:
                end = time.monotonic() + 60
                while server.connections == 0 and time.monotonic() < end:
                    time.sleep(0.01)
                stopping.set()

            threading.Thread(target=stop_once_connected, daemon=True).start()
            notifier = Notifier(
                settings.notify, archive.db, clock=clock, should_stop=stopping.is_set
            )
            started = time.monotonic()
            assert notifier.flush(force=True) == {}
            took = time.monotonic() - started
            [row] = _rows(archive)
    assert server.connections == 1
    assert took < MARGIN, took
    # Not an attempt: sent at the next start as if nothing had happened.
    assert (row.attempts, row.last_error, row.delivered_at) == (0, None, None)
    assert row.next_attempt_at == queued.next_attempt_at
