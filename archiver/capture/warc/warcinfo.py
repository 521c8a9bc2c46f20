"""The warcinfo block: who wrote the file, with what settings, never with secrets.

A WARC file may be handed to a court years from now, to people we do not know; any
password, API key or proxy credential in it leaks for good. Settings therefore pass
through a ``redact`` hook before they are written. The default hook errs on the side
of hiding: a field whose name looks secret is replaced, user:password in URLs and
secret-looking query parameters are masked.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping

from archiver import __version__
from archiver.errors import WarcError

Redactor = Callable[[str, str], str | None]
"""``redact(key, value) -> value to write``, or None to leave the field out."""

SOFTWARE = f"evidence-archiver/{__version__}"
FORMAT = "WARC File Format 1.1"
CONFORMS_TO = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
REDACTED = "[redacted]"

_FIELD_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_SECRET_NAME = re.compile(
    r"(?:^|[._-])(?:password|passwd|passphrase|pass|pwd|secret|token|api[_-]?key|"
    r"private[_-]?key|access[_-]?key|secret[_-]?key|credentials?|auth|authorization|"
    r"cookies?|session(?:[_-]?id)?|bearer)(?:$|[._-])",
    re.IGNORECASE,
)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&;](?:[^=&;#\s]*(?:token|key|secret|password|passwd|sig|signature|auth)"
    r"[^=&;#\s]*)=)[^&;#\s]*",
    re.IGNORECASE,
)
_RESERVED = {"software", "format", "conformsTo", "operator", "organisation", "os-account"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def default_redact(key: str, value: str) -> str | None:
    """Hide values of secret-looking keys; mask credentials inside URL values."""
    if _SECRET_NAME.search(key):
        return REDACTED
    value = _USERINFO.sub(rf"\g<scheme>{REDACTED}@", value)
    return _SECRET_PARAM.sub(rf"\g<name>{REDACTED}", value)


def warcinfo_block(
    *,
    operator: str | None,
    settings: Mapping[str, object],
    software: str = SOFTWARE,
    redact: Redactor = default_redact,
    organisation: str | None = None,
    os_account: str | None = None,
) -> bytes:
    """The ``application/warc-fields`` block: fixed fields first (who captured:
    ``operator``, ``organisation``, ``os-account`` when known), then the settings
    flattened to dotted keys in sorted order (so equal settings give equal bytes).

    Every snapshot of a run has the same settings, so blocks are remembered by value
    (flattening, JSON and the redaction patterns cost more than the gzip of the block)."""
    who = (operator, organisation, os_account)
    try:
        # As JSON, the settings are a key (and JSON tells 1, 1.0 and true apart).
        key = json.dumps(settings, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):  # built the long way, which names the bad setting
        return _build(who, settings, software, redact)
    return _cached(who, key, software, redact)


Who = tuple[str | None, str | None, str | None]  # operator, organisation, os-account


@functools.lru_cache(maxsize=32)
def _cached(who: Who, settings_json: str, software: str, redact: Redactor) -> bytes:
    return _build(who, json.loads(settings_json), software, redact)


def _build(who: Who, settings: Mapping[str, object], software: str, redact: Redactor) -> bytes:
    fields: list[tuple[str, str]] = [("software", software), ("format", FORMAT)]
    fields.append(("conformsTo", CONFORMS_TO))
    for name, value in zip(("operator", "organisation", "os-account"), who, strict=True):
        if value:
            fields.append((name, value))
    for key, value in sorted(_flatten(settings, "")):
        if key in _RESERVED:
            raise WarcError(f"setting {key!r} would shadow a standard warcinfo field")
        shown = redact(key, value)
        if shown is not None:
            fields.append((key, shown))
    lines = []
    for name, text in fields:
        if not _FIELD_NAME.match(name):
            raise WarcError(f"not a warc-fields name: {name!r}")
        lines.append(f"{name}: {_one_line(text)}\r\n")
    return "".join(lines).encode()


def _flatten(settings: Mapping[str, object], prefix: str) -> Iterator[tuple[str, str]]:
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{name}.")
        elif isinstance(value, str):
            yield name, value
        else:
            try:
                text = json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise WarcError(f"setting {name!r} is not JSON-serialisable: {exc}") from exc
            yield name, text


def _one_line(text: str) -> str:
    # A line break would start a forged field; JSON-quote such values instead.
    if _CONTROL.search(text):
        return json.dumps(text, ensure_ascii=False)
    return text
