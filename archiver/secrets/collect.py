"""Which values of the settings are secrets (pure), and the process-wide log scrubbing.

The settings name credentials in several places: the proxy URL's password, the SMTP
password, the webhook URL's user:password and query values (``?token=...``), the web
session secret and the PostgreSQL URL's password. Every one is collected here, so the
WARC writer and the log records can be searched for all of them together with the
operator's session cookies (:mod:`archiver.capture.session`).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .scrub import Secrets

if TYPE_CHECKING:
    from archiver.config import Settings


def url_secrets(url: str) -> set[str]:
    """The password and query values of a URL (a webhook's ``?token=``). User names are
    not secrets (and a common one, "postgres", would be scrubbed from every log line)."""
    if not url:
        return set()
    try:
        parts = urlsplit(url)
        found = {unquote(parts.password or "")}
    except ValueError:
        return set()
    found |= {value for _, value in parse_qsl(parts.query, keep_blank_values=False)}
    return {value for value in found if value}


def settings_secrets(settings: Settings) -> Secrets:
    values = set()
    values |= url_secrets(settings.network.proxy)
    values |= url_secrets(settings.notify.webhook_url)
    values |= url_secrets(settings.storage.database_url)
    values.add(settings.notify.smtp_password)
    values.add(settings.web.session_secret)
    # The bucket's secret key (docs/storage.md), from the settings or boto3's variable.
    values.add(settings.storage.s3_secret_access_key)
    if settings.storage.warc_url:
        values.add(os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
    return Secrets(frozenset(v for v in values if v))


# -- logs ---------------------------------------------------------------------------------

_LOG_SECRETS: list[Secrets] = []
_factory_installed = False


def redact_logs(secrets: Secrets) -> None:
    """From now on, replace these values (in every form) in every log record of the
    process, whoever logs it (httpcore's debug trace prints response headers, Set-Cookie
    included; an exception message may quote a URL with its token).

    A record factory rather than a filter: filters sit on one logger or handler, while
    every record of every logger is made by the factory."""
    global _factory_installed
    if not secrets:
        return
    merged = secrets
    for earlier in _LOG_SECRETS:
        merged = merged | earlier
    _LOG_SECRETS[:] = [merged]
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        current = _LOG_SECRETS[0]
        message = record.getMessage()
        if current.found_in(message):
            record.msg = current.redact_text(message)
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if current.found_in(text):
                # The traceback quotes a secret: keep it, scrubbed, as text.
                record.exc_text = current.redact_text(text)
                record.exc_info = None
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True
