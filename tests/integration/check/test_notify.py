"""Notifications: batched webhook POSTs and e-mails, retried until delivered."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from archiver.app import Archive
from archiver.check.notify import Notifier, enqueue
from archiver.config import Settings
from archiver.models import Notification
from tests.conftest import FixedClock
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
