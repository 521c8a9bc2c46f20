"""The settings as people may see them: every secret masked (pure functions).

A setting that holds a credential carries a mark in :mod:`archiver.config`
(``Annotated[str, Redact.SECRET]``), and :func:`display_settings` applies it:

- ``Redact.SECRET``: the value is never shown, only ``"(set)"`` or ``""`` when unset
  (passwords, the web session secret);
- ``Redact.URL``: the URL without its user name and password (``***@``) and without
  the values of its query (``?token=(redacted)``: the keys stay, they say what is set);
- ``Redact.SECRET_PATH_URL``: as a URL, and its path hidden too (a webhook's path is
  its credential at Slack, Discord and most services).

tests/unit/test_settings_display.py lists every setting as secret or plain, so a new
one cannot be shown by mistake.
"""

from __future__ import annotations

from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel
from pydantic.fields import FieldInfo

SET = "(set)"
HIDDEN = "(redacted)"


class Redact(Enum):
    """How a setting is shown (a mark in its type: ``Annotated[str, Redact.SECRET]``)."""

    SECRET = "secret"
    URL = "url"
    SECRET_PATH_URL = "secret-path-url"


def redaction_of(field: FieldInfo) -> Redact | None:
    return next((m for m in field.metadata if isinstance(m, Redact)), None)


def redact_url(url: str, *, hide_path: bool = False) -> str:
    """``url`` without credentials: user info as ``***@``, query values and fragment as
    ``(redacted)``, and with ``hide_path`` the path too. A URL that cannot be parsed is
    shown as ``(set)``: it may be anything."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return SET
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    path = parts.path
    if hide_path and path not in ("", "/"):
        path = "/" + HIDDEN
    text = f"{parts.scheme}:" if parts.scheme else ""
    # Keep "//" when the URL had it (sqlite:////abs/path has an empty host).
    if netloc or url[len(text) :].startswith("//"):
        text += "//" + netloc
    text += path
    if parts.query:
        keys = []
        for item in parts.query.split("&"):
            key, equals, _ = item.partition("=")
            if equals:
                keys.append(f"{key}={HIDDEN}")
            elif item:
                keys.append(HIDDEN)  # a bare ?value may be the secret itself
        text += "?" + "&".join(keys)
    if parts.fragment:
        text += "#" + HIDDEN
    return text


def _shown(kind: Redact, value: Any) -> Any:
    if kind is Redact.SECRET:
        return SET if value else ""
    hide_path = kind is Redact.SECRET_PATH_URL
    if isinstance(value, str):
        return redact_url(value, hide_path=hide_path)
    if isinstance(value, tuple | list):
        return [redact_url(str(v), hide_path=hide_path) for v in value]
    return SET if value else ""


def display_settings(settings: BaseModel) -> dict[str, Any]:
    """The settings as JSON-ready data, every marked value masked."""
    document: dict[str, Any] = settings.model_dump(mode="json")
    _mask(settings, document)
    return document


def _mask(model: BaseModel, document: dict[str, Any]) -> None:
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            _mask(value, document[name])
            continue
        kind = redaction_of(field)
        if kind is not None:
            document[name] = _shown(kind, value)
