"""Telling the operator: state changes and degraded runs, by webhook and e-mail.

Events go into an outbox table in the same transaction as the change they report
(:func:`enqueue`), so none is lost when a channel is down or the process stops. The
:class:`Notifier` sends what is due per channel as one batch (one JSON POST, one
e-mail), and on failure retries the batch later with exponential back-off, up to
``notify.max_attempts``. Secrets (SMTP password, webhook URL credentials) are never
logged.

Each delivery (one POST, one e-mail) ends ``notify.timeout`` seconds after it starts,
whatever the server does: a total deadline, not per read (a server answering one byte
at a time never trips a per-read timeout), counted as a failed attempt. A process that
is stopping (``should_stop``) abandons the delivery in flight: nothing is recorded for
it, and the batch is sent at the next start (a webhook that did receive it then gets it
twice: events carry their ``id``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.bounded import STOP_POLL, Stopped, run_bounded
from archiver.config import NotifySettings
from archiver.errors import NotifyError
from archiver.models import Notification
from archiver.store.db import Database

log = logging.getLogger(__name__)

_RETRY_BASE = timedelta(seconds=30)
_RETRY_MAX = timedelta(hours=6)


def channels(settings: NotifySettings) -> list[str]:
    out = []
    if settings.webhook_url:
        out.append("webhook")
    if settings.smtp_host and settings.email_to:
        out.append("email")
    return out


def enqueue(
    session: Session,
    settings: NotifySettings,
    event: str,
    payload: Mapping[str, Any],
    now: datetime,
) -> None:
    """Queue one event on every configured channel, in the caller's transaction. Sent
    no earlier than ``batch_window`` from now, so changes close in time go together."""
    due = now + timedelta(seconds=settings.batch_window)
    for channel in channels(settings):
        session.add(
            Notification(
                created_at=now,
                channel=channel,
                event=event,
                payload=dict(payload),
                attempts=0,
                next_attempt_at=due,
            )
        )


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{parts.path}"


def retry_delay(attempts: int) -> timedelta:
    delay: timedelta = _RETRY_BASE * (2 ** max(attempts - 1, 0))
    return min(delay, _RETRY_MAX)


class Notifier:
    def __init__(
        self,
        settings: NotifySettings,
        db: Database,
        *,
        clock: Callable[[], datetime],
        transport: httpx.AsyncBaseTransport | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self._transport = transport
        self.should_stop = should_stop

    def flush(self, *, force: bool = False) -> dict[str, int]:
        """Send every due batch (``force``: also those still inside their batch window).
        Returns events delivered per channel. Never raises for a delivery failure; once
        ``should_stop()`` is true, the delivery in flight is abandoned (not counted as an
        attempt) and no other is made."""
        delivered: dict[str, int] = {}
        for channel in channels(self.settings):
            with self.db.session() as session:
                now = self.clock()
                query = select(Notification).where(
                    Notification.channel == channel,
                    Notification.delivered_at.is_(None),
                    Notification.attempts < self.settings.max_attempts,
                )
                if not force:
                    query = query.where(Notification.next_attempt_at <= now)
                rows = list(session.scalars(query.order_by(Notification.id)))
                if not rows:
                    continue
                events = [{"id": r.id, "event": r.event, **r.payload} for r in rows]
                try:
                    self._send(channel, events, now)
                except Stopped:
                    log.info("notification by %s abandoned: stopping; sent later", channel)
                    return delivered
                except NotifyError as exc:
                    log.warning(
                        "notification by %s failed (%d events): %s", channel, len(rows), exc
                    )
                    for row in rows:
                        row.attempts += 1
                        row.last_error = str(exc)
                        row.next_attempt_at = now + retry_delay(row.attempts)
                    continue
                for row in rows:
                    row.attempts += 1
                    row.delivered_at = now
                delivered[channel] = len(rows)
        return delivered

    async def aflush(self, *, force: bool = False) -> dict[str, int]:
        return await asyncio.to_thread(self.flush, force=force)

    def _send(self, channel: str, events: Sequence[dict[str, Any]], now: datetime) -> None:
        document = {"generated_at": now.isoformat(), "count": len(events), "events": events}
        if channel == "webhook":
            self._post(document)
        else:
            self._mail(document)

    def _post(self, document: dict[str, Any]) -> None:
        url = self.settings.webhook_url
        timeout = self.settings.timeout

        async def post() -> httpx.Response:
            async with httpx.AsyncClient(
                timeout=timeout, transport=self._transport, trust_env=False
            ) as client:
                return await client.post(url, json=document)

        try:
            response = run_bounded(post, deadline=timeout, should_stop=self.should_stop)
        except TimeoutError as exc:
            raise NotifyError(
                f"webhook {_redacted(url)}: no answer within {timeout:g}s (notify.timeout)"
            ) from exc
        except httpx.HTTPError as exc:
            raise NotifyError(f"webhook {_redacted(url)}: {type(exc).__name__}") from exc
        if not 200 <= response.status_code < 300:
            raise NotifyError(f"webhook {_redacted(url)} answered HTTP {response.status_code}")

    def _mail(self, document: dict[str, Any]) -> None:
        s = self.settings
        message = EmailMessage()
        message["From"] = s.email_from
        message["To"] = ", ".join(s.email_to)
        message["Subject"] = f"[archiver] {document['count']} source state change(s)"
        message.set_content(_mail_text(document))
        message.add_attachment(
            json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8"),
            maintype="application",
            subtype="json",
            filename="events.json",
        )
        smtp = smtplib.SMTP(timeout=s.timeout)  # connected below, under the guard
        with _cut_off(smtp, s.timeout, self.should_stop) as why:
            try:
                with smtp:
                    code, greeting = smtp.connect(s.smtp_host, s.smtp_port)
                    if code != 220:
                        raise smtplib.SMTPConnectError(code, greeting)
                    if s.smtp_starttls:
                        smtp.starttls()
                    if s.smtp_user:
                        smtp.login(s.smtp_user, s.smtp_password)
                    smtp.send_message(message)
            except (smtplib.SMTPException, OSError) as exc:
                if why and why[0] == "stop":
                    raise Stopped() from exc
                if why:
                    exc = TimeoutError(f"no answer within {s.timeout:g}s (notify.timeout)")
                # The exception text never holds the password; the type and code are enough.
                raise NotifyError(f"e-mail via {s.smtp_host}:{s.smtp_port}: {exc}") from exc


@contextmanager
def _cut_off(
    smtp: smtplib.SMTP, deadline: float, should_stop: Callable[[], bool] | None
) -> Iterator[list[str]]:
    """smtplib's timeout is per read: a thread shuts the connection down ``deadline``
    seconds from now, or when ``should_stop()`` turns true; the list yielded then says
    why ("deadline" or "stop"), and the blocked call fails at once."""
    why: list[str] = []
    done = threading.Event()
    ends = time.monotonic() + deadline

    def watch() -> None:
        while not done.wait(STOP_POLL):
            stopping = should_stop is not None and should_stop()
            if stopping or time.monotonic() >= ends:
                why.append("stop" if stopping else "deadline")
                sock = smtp.sock
                if sock is not None:
                    with suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return

    watcher = threading.Thread(target=watch, name="smtp-deadline", daemon=True)
    watcher.start()
    try:
        yield why
    finally:
        done.set()
        watcher.join()


def _mail_text(document: Mapping[str, Any]) -> str:
    lines = [f"{document['count']} event(s), {document['generated_at']}", ""]
    for event in document["events"]:
        if event["event"] == "degraded_run":
            lines.append(f"DEGRADED RUN {event.get('run_id')}: {event.get('reason')}")
        else:
            lines.append(
                f"{event.get('from_state')} -> {event.get('to_state')}: "
                f"{event.get('url')} (source {event.get('source_id')})"
            )
            lines.append(f"    {event.get('reason')}")
            for change in event.get("changes", [])[:10]:
                lines.append(f'    ~ "{change["before"]}" -> "{change["after"]}"')
            for line in event.get("diff", [])[:10]:
                lines.append(f"    {line}")
    return "\n".join(lines) + "\n"
