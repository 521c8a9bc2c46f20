"""Reading what archives answer (pure): Memento TimeMaps (RFC 7089, in the link format
of RFC 6690), Wayback CDX answers, and the choice of the copy nearest a date.

An archive's answer is data from a third party: anything that does not parse is left
out, never guessed at, and a TimeMap that lists nothing is "no copy", not an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit


@dataclass(frozen=True, order=True)
class Memento:
    """One copy an archive lists: when it captured the page, and where the copy is."""

    datetime: datetime
    url: str
    # Where it was listed: the TimeMap or CDX URL asked.
    listed_by: str = ""

    @property
    def archive(self) -> str:
        """The archive holding the copy, by host name (``web.archive.org``): an
        aggregator lists copies of many archives, each under its own host."""
        return (urlsplit(self.url).hostname or "").lower()


# <uri>; rel="memento"; datetime="Wed, 05 Oct 2022 14:02:11 GMT", <uri>; ...
# A link's URI may contain commas; its parameters are separated by semicolons and end
# at the next "<" that starts a link.
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[A-Za-z*-]+\s*=\s*(?:\"[^\"]*\"|[^;,<]*))*)")
_PARAM = re.compile(r";\s*([A-Za-z*-]+)\s*=\s*(?:\"([^\"]*)\"|([^;,<]*))")


def parse_http_date(value: str) -> datetime | None:
    """An RFC 1123 date (``Memento-Datetime``, a TimeMap's ``datetime``) in UTC."""
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_timemap(text: str, listed_by: str = "") -> list[Memento]:
    """Every ``rel="memento"`` link with a datetime (``first memento``, ``last memento``
    and the like included), oldest first, each URL once."""
    found: dict[str, Memento] = {}
    for match in _LINK.finditer(text):
        uri, params = match.group(1).strip(), match.group(2)
        values = {
            m.group(1).lower(): (m.group(2) or m.group(3) or "").strip()
            for m in _PARAM.finditer(params)
        }
        rels = values.get("rel", "").lower().split()
        if "memento" not in rels or not uri:
            continue
        moment = parse_http_date(values.get("datetime", ""))
        if moment is None or urlsplit(uri).scheme not in ("http", "https"):
            continue
        found.setdefault(uri, Memento(moment, uri, listed_by))
    return sorted(found.values())


def wayback_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def parse_wayback_timestamp(stamp: str) -> datetime | None:
    """A 14-digit Wayback timestamp (shorter ones padded as the Wayback Machine does)."""
    digits = stamp.strip()
    if not digits.isdigit() or not 4 <= len(digits) <= 14:
        return None
    digits = (digits + "0101000000"[len(digits) - 4 :])[:14] if len(digits) < 14 else digits
    try:
        return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def cdx_replay_prefix(cdx_url: str) -> str:
    """Where a Wayback CDX API's copies are replayed: the same host's ``/web/``."""
    parts = urlsplit(cdx_url)
    return f"{parts.scheme}://{parts.netloc}/web/"


def cdx_query(cdx_url: str, url: str) -> str:
    """The CDX request for every capture of ``url``, all fields (the Wayback Machine's
    and pywb's field names differ; :func:`parse_cdx` reads both, and filters)."""
    return f"{cdx_url}?url={quote(url, safe='')}&output=json"


def parse_cdx(text: str, cdx_url: str) -> list[Memento]:
    """A CDX answer: the Wayback Machine's JSON (an array of rows, the first naming the
    fields) or pywb's (one JSON object per line). Rows with a status other than 2xx or
    3xx are left out (an archived 404 is no copy of the page)."""
    rows: list[dict[str, str]] = []
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            table = json.loads(stripped)
        except ValueError:
            return []
        if isinstance(table, list) and table and isinstance(table[0], list):
            names = [str(n) for n in table[0]]
            rows = [
                dict(zip(names, map(str, row), strict=False))
                for row in table[1:]
                if isinstance(row, list)
            ]
    else:
        for line in stripped.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                rows.append({str(k): str(v) for k, v in item.items()})
    prefix = cdx_replay_prefix(cdx_url)
    found: dict[str, Memento] = {}
    for row in rows:
        status = row.get("statuscode", row.get("status", ""))
        if status and status[:1] not in ("2", "3"):
            continue
        moment = parse_wayback_timestamp(row.get("timestamp", ""))
        original = row.get("original", row.get("url", ""))
        if moment is None or not original:
            continue
        uri = f"{prefix}{row['timestamp']}/{original}"
        found.setdefault(uri, Memento(moment, uri, cdx_url))
    return sorted(found.values())


# /20221005140211/ or /20221005140211im_/ in a Wayback-style memento URL.
_STAMP = re.compile(r"/(\d{14})(?:[a-z]{2}_)?/")


def raw_url(memento_url: str) -> str:
    """The memento's original bytes, unrewritten: Wayback-style archives (the Wayback
    Machine, pywb, Arquivo.pt and others) serve them under the ``id_`` modifier.
    Archives without such a mode are fetched at the memento URL itself."""
    return _STAMP.sub(lambda m: f"/{m.group(1)}id_/", memento_url, count=1)


def nearest(mementos: Iterable[Memento], target: datetime) -> list[Memento]:
    """The copies by distance from ``target``, nearest first; at equal distance the
    earlier one (closer to what the report's author saw)."""
    return sorted(mementos, key=lambda m: (abs((m.datetime - target).total_seconds()), m.datetime))


def merge(lists: Sequence[Sequence[Memento]]) -> list[Memento]:
    """Copies listed by several TimeMaps (an aggregator and the archive itself), once."""
    seen: dict[str, Memento] = {}
    for mementos in lists:
        for memento in mementos:
            seen.setdefault(raw_url(memento.url), memento)
    return sorted(seen.values())
