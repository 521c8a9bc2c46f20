"""WARC/1.1 named fields: values checked, dates and record ids formatted, block encoded.

Everything here is a pure function of its arguments, so the header bytes of a record
depend only on what the caller passed (and the injected clock and id factory).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from archiver.errors import WarcError

WARC_VERSION = "WARC/1.1"
CRLF = b"\r\n"
# A record ends with two CRLFs after its block (WARC 1.1 section 4).
RECORD_END = b"\r\n\r\n"

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Control characters (CR and LF above all) would let a value forge further fields.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_KIND = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_RECORD_ID = re.compile(r"^<[A-Za-z][A-Za-z0-9+.-]*:[^<>\s]+>$")


class Truncated(StrEnum):
    """Why a block is shorter than what the server or tool would have sent
    (the WARC-Truncated field's registered values)."""

    LENGTH = "length"
    TIME = "time"
    DISCONNECT = "disconnect"
    UNSPECIFIED = "unspecified"


def truncated_value(reason: str) -> str:
    try:
        return Truncated(reason).value
    except ValueError:
        raise WarcError(f"WARC-Truncated must be one of {[t.value for t in Truncated]}") from None


def format_warc_date(moment: datetime) -> str:
    """ISO 8601 UTC with always six fractional digits, e.g. ``2026-01-02T03:04:05.123456Z``.

    WARC 1.1 allows sub-second precision; a fixed width keeps dates of one file
    comparable as plain strings. Naive datetimes are refused: a timestamp that may or
    may not be local time is worthless as evidence.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise WarcError(f"WARC-Date needs a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_record_id(value: uuid.UUID) -> str:
    """``<urn:uuid:...>``: the angle brackets are part of the WARC 1.1 syntax."""
    return f"<urn:uuid:{value}>"


def check_record_id(value: str) -> str:
    if not _RECORD_ID.match(value):
        raise WarcError(f"not a WARC record id (expected <urn:...>): {value!r}")
    return value


def check_uri(value: str) -> str:
    """A WARC-Target-URI must be an absolute URI without whitespace. It is not
    silently repaired: the caller (harvest's normalizer) owns what the URL is."""
    if not _URI.match(value) or _CONTROL.search(value):
        raise WarcError(f"not an absolute URI without spaces: {value!r}")
    return value


def check_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise WarcError(f"not an IP address: {value!r}") from exc


def check_content_type(value: str) -> str:
    if not value or _CONTROL.search(value) or "/" not in value:
        raise WarcError(f"not a media type: {value!r}")
    return value


def artefact_uri(kind: str, url: str) -> str:
    """``urn:<kind>:<url>``, the target URI of a derived artefact (a resource record),
    e.g. ``urn:screenshot:https://example.org/``; kind is lowercase, e.g. ``dom``,
    ``pdf``, ``video``, ``video-info``, ``thumbnail``."""
    if not _KIND.match(kind):
        raise WarcError(f"artefact kind must be lowercase letters, digits and dashes: {kind!r}")
    return f"urn:{kind}:{url}"


def encode_fields(fields: Sequence[tuple[str, str]]) -> bytes:
    """``WARC/1.1`` line, ``Name: value`` lines, blank line; UTF-8 as WARC 1.1 allows."""
    lines = [WARC_VERSION.encode("ascii")]
    for name, value in fields:
        if not _TOKEN.match(name):
            raise WarcError(f"not a WARC field name: {name!r}")
        if _CONTROL.search(value):
            raise WarcError(f"control character in WARC field {name}: {value!r}")
        lines.append(f"{name}: {value}".encode())
    return CRLF.join(lines) + CRLF + CRLF
