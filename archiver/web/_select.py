"""Which sources and footnotes the dashboard's filters keep, and the counts shown beside
them (docs/web.md, "Report dashboard").

State, platform, "never preserved" (tried, nothing preserves it) and "suspected" (the
latest observation accuses the source, waiting for its confirmation) are conditions in
the database's query. Domain (the URL's host, ``www.`` dropped, subdomains included),
"incomplete" (the latest preserved snapshot lacks a part, derived for old rows as the
status document does) and search (every word, case-folded, somewhere in the URL as
cited, the source's URL, the claim or a snapshot's page title) are then decided here
over narrow rows (ids and texts), never over whole status entries. The status document
(archiver.store.status) says the same about every source; the tests hold the two
together.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import ColumnElement, Select, Text, and_, cast, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from archiver.check.signals import ACCUSING
from archiver.models import Citation, Observation, PlatformRecord, Report, Snapshot, Source
from archiver.store.db import Database
from archiver.store.source_facts import derived_incomplete
from archiver.store.status import _iso

# Longer searches are cut (a query string is no place for an essay).
MAX_SEARCH = 200
FLAGS = ("never_preserved", "suspected", "incomplete")
_CHUNK = 500


@dataclass(frozen=True)
class Filters:
    state: str | None = None
    platform: str | None = None
    domain: str | None = None
    never_preserved: bool = False
    suspected: bool = False
    incomplete: bool = False
    # Search: words, all of which a footnote's texts must hold.
    q: str | None = None

    @classmethod
    def of(
        cls,
        *,
        state: str | None = None,
        platform: str | None = None,
        domain: str | None = None,
        never_preserved: bool = False,
        suspected: bool = False,
        incomplete: bool = False,
        q: str | None = None,
    ) -> Filters:
        """Empty strings are no filter; the domain is reduced to a host name."""
        return cls(
            state=state or None,
            platform=platform or None,
            domain=normalize_domain(domain) or None if domain else None,
            never_preserved=never_preserved,
            suspected=suspected,
            incomplete=incomplete,
            q=(q or "").strip()[:MAX_SEARCH] or None,
        )

    @property
    def words(self) -> list[str]:
        return (self.q or "").casefold().split()

    @property
    def active(self) -> bool:
        return self != Filters()

    def query(self, **changes: Any) -> str:
        """These filters (with ``changes``) as a query string, for links."""
        values = {f.name: getattr(self, f.name) for f in fields(self)} | changes
        return urlencode(
            {k: ("1" if v is True else v) for k, v in values.items() if v not in (None, False, "")}
        )


def host_of(url: str) -> str:
    """The URL's host name, lower case, without ``www.``."""
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0] if sep else ""
    if host and "@" not in host and "[" not in host and scheme.isalpha():
        host = host.partition(":")[0].lower()
    else:
        try:  # the unusual ones (user info, IPv6, no scheme): as urllib reads them
            host = urlsplit(url).hostname or ""
        except ValueError:
            return ""
    return host[4:] if host.startswith("www.") else host


def normalize_domain(value: str) -> str:
    value = value.strip().lower()
    if "/" in value:  # a URL pasted instead of its host
        value = host_of(value if "//" in value else "//" + value)
    return value.removeprefix("www.").rstrip(".")


def in_domain(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _preserved_sources() -> Select[int]:
    return select(Snapshot.source_id).where(Snapshot.http_status >= 200, Snapshot.http_status < 300)


def _preserving(snapshot: Any) -> ColumnElement[bool]:
    return and_(snapshot.http_status >= 200, snapshot.http_status < 300)


def _never_preserved() -> ColumnElement[bool]:
    # As the status document: capture_attempts > 0 and no snapshot answered 2xx.
    return and_(Source.capture_attempts > 0, Source.id.not_in(_preserved_sources()))


def _suspected_sources() -> Select[int]:
    """Sources whose latest observation points to an accusing state that neither it nor
    the source's state shows yet (archiver.store.source_facts.suspected)."""
    latest = select(func.max(Observation.id)).group_by(Observation.source_id)
    return (
        select(Observation.source_id)
        .join(Source, Source.id == Observation.source_id)
        .where(
            Observation.id.in_(latest),
            Observation.implied_state.in_(sorted(ACCUSING)),
            Observation.implied_state != Source.state,
            Observation.resulting_state != Observation.implied_state,
        )
    )


def _conditions(filters: Filters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if filters.state is not None:
        found.append(Source.state == filters.state)
    if filters.platform is not None:
        found.append(Source.platform == filters.platform)
    if filters.never_preserved:
        found.append(_never_preserved())
    if filters.suspected:
        found.append(Source.id.in_(_suspected_sources()))
    return found


def _incomplete(session: Session, scope: Select[int]) -> set[int]:
    """Sources in ``scope`` whose latest preserved snapshot lacks a part."""
    later = aliased(Snapshot)
    recorded = cast(Snapshot.incomplete, Text)
    # Complete snapshots ("[]", nearly all) stay in the database; of the others, the
    # latest preserved one of its source: no preserved one started after it.
    rows = session.execute(
        select(Snapshot.source_id, Snapshot.id, recorded).where(
            Snapshot.source_id.in_(scope),
            _preserving(Snapshot),
            func.coalesce(recorded, "null") != "[]",
            ~exists().where(
                later.source_id == Snapshot.source_id,
                _preserving(later),
                or_(
                    later.started_at > Snapshot.started_at,
                    and_(later.started_at == Snapshot.started_at, later.id > Snapshot.id),
                ),
            ),
        )
    ).all()
    lacking: set[int] = set()
    unrecorded: list[str] = []
    for source_id, snapshot_id, text in rows:
        value = None if text is None else json.loads(text)
        if value is None:
            unrecorded.append(snapshot_id)
        elif value:
            lacking.add(source_id)
    # Written before it was recorded: what the row tells (in chunks: SQLite caps the
    # number of values in a query).
    for i in range(0, len(unrecorded), _CHUNK):
        chunk = unrecorded[i : i + _CHUNK]
        media = {
            snapshot_id: (media_status, media_error)
            for snapshot_id, media_status, media_error in session.execute(
                select(
                    PlatformRecord.snapshot_id,
                    PlatformRecord.media_status,
                    PlatformRecord.media_error,
                ).where(PlatformRecord.snapshot_id.in_(chunk))
            )
        }
        for snap in session.scalars(select(Snapshot).where(Snapshot.id.in_(chunk))):
            video, error = media.get(snap.id, (None, None))
            kinds = [a["kind"] for a in snap.artefacts]
            if derived_incomplete(snap.methods, snap.http_status, kinds, video, error):
                lacking.add(snap.source_id)
    return lacking


def _titles_query(scope: Select[int]) -> Select[int, str | None]:
    return (
        select(Snapshot.source_id, Snapshot.title)
        .where(Snapshot.source_id.in_(scope), Snapshot.title.is_not(None))
        .distinct()
    )


def _titles(session: Session, scope: Select[int]) -> dict[int, list[str]]:
    titles: dict[int, list[str]] = defaultdict(list)
    for source_id, title in session.execute(_titles_query(scope)):
        if title:
            titles[source_id].append(title)
    return titles


def _holds(words: list[str], texts: Iterable[str | None]) -> bool:
    haystack = "\n".join(t for t in texts if t).casefold()
    return all(word in haystack for word in words)


class _Found:
    """Which of the search's words each source's texts hold, as bits (an int per
    source: the texts themselves are not kept)."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.full = (1 << len(words)) - 1
        self.bits: dict[int, int] = {}

    def see(self, source_id: int, text: str | None) -> None:
        if text:
            folded = text.casefold()
            bits = sum(1 << i for i, word in enumerate(self.words) if word in folded)
            if bits:
                self.bits[source_id] = self.bits.get(source_id, 0) | bits

    def all_of(self, source_id: int) -> bool:
        return self.bits.get(source_id) == self.full


def matching_source_ids(db: Database, filters: Filters) -> list[int]:
    """Ids of the archive's sources the filters keep, in id order."""
    conditions = _conditions(filters)
    query = select(Source.id, Source.url).where(*conditions).order_by(Source.id)
    scope = select(Source.id).where(*conditions)
    found = _Found(filters.words)
    ids: list[int] = []
    with db.session() as session:
        for source_id, url in session.execute(query):
            if filters.domain and not in_domain(host_of(url), filters.domain):
                continue
            ids.append(source_id)
            if found.words:
                found.see(source_id, url)
        if filters.incomplete and ids:
            lacking = _incomplete(session, scope)
            ids = [i for i in ids if i in lacking]
        if found.words and ids:
            for source_id, url, context in session.execute(
                select(Citation.source_id, Citation.url_as_cited, Citation.context).where(
                    Citation.source_id.in_(scope)
                )
            ):
                found.see(source_id, url)
                found.see(source_id, context)
            for source_id, title in session.execute(_titles_query(scope)):
                found.see(source_id, title)
            ids = [i for i in ids if found.all_of(i)]
    return ids


@dataclass
class ReportSelection:
    report: dict[str, Any]
    # The citations kept, in the report's order: marker, url (as cited), source_id, context.
    footnotes: list[dict[str, Any]]
    total: int
    # Over the whole report, footnote by footnote (filters do not change them).
    by_state: dict[str, int] = field(default_factory=dict)
    by_platform: dict[str, int] = field(default_factory=dict)
    by_domain: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)


def report_entry(report: Report) -> dict[str, Any]:
    """A report's fields as in the status document, without its citations."""
    return {
        "id": report.id,
        "title": report.title,
        "sha256": report.sha256,
        "format": report.format,
        "origin": report.origin,
        "ingested_at": _iso(report.ingested_at),
        "skipped_links": len((report.harvest_notes or {}).get("skipped", [])),
    }


def select_report(db: Database, report_id: int, filters: Filters) -> ReportSelection | None:
    """The report's footnotes the filters keep, and its counts. The report's citations
    are read once, narrow (its counts need every one of them), and filtered here as
    they come (rows not kept are not held: 10,000 of them held made the collector
    sweep the whole heap, doubling the time)."""
    cited = select(Citation.source_id).where(Citation.report_id == report_id)
    citations = (
        select(
            Citation.marker,
            Citation.url_as_cited,
            Citation.source_id,
            Citation.context,
            Source.state,
            Source.platform,
            Source.url,
        )
        .join(Source, Source.id == Citation.source_id)
        .where(Citation.report_id == report_id)
        .order_by(Citation.position)
    )
    hosts: dict[int, str] = {}
    by_state: Counter[str] = Counter()
    by_platform: Counter[str] = Counter()
    by_domain: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    footnotes = []
    with db.session() as session:
        report = session.get(Report, report_id)
        if report is None:
            return None
        sets = {
            "never_preserved": set(
                session.scalars(select(Source.id).where(Source.id.in_(cited), _never_preserved()))
            ),
            "suspected": set(
                session.scalars(_suspected_sources().where(Observation.source_id.in_(cited)))
            ),
            "incomplete": _incomplete(session, cited),
        }
        titles = _titles(session, cited) if filters.words else {}
        wanted = [sets[flag] for flag in FLAGS if getattr(filters, flag)]
        for marker, url, source_id, context, state, platform, source_url in session.execute(
            citations
        ):
            host = hosts.get(source_id)
            if host is None:
                host = hosts[source_id] = host_of(source_url)
            by_state[state] += 1
            by_platform[platform] += 1
            by_domain[host] += 1
            for flag in FLAGS:
                if source_id in sets[flag]:
                    flags[flag] += 1
            if (
                (filters.state is not None and state != filters.state)
                or (filters.platform is not None and platform != filters.platform)
                or (filters.domain and not in_domain(host, filters.domain))
                or any(source_id not in members for members in wanted)
                or (
                    filters.words
                    and not _holds(
                        filters.words, (url, context, source_url, *titles.get(source_id, ()))
                    )
                )
            ):
                continue
            footnotes.append(
                {"marker": marker, "url": url, "source_id": source_id, "context": context}
            )
    return ReportSelection(
        report_entry(report),
        footnotes,
        total=sum(by_state.values()),
        by_state=dict(sorted(by_state.items())),
        by_platform=dict(sorted(by_platform.items())),
        by_domain=dict(sorted(by_domain.items())),
        flags={flag: flags[flag] for flag in FLAGS},
    )


@dataclass
class ArchiveCounts:
    by_domain: dict[str, int]
    flags: dict[str, int]


def archive_counts(db: Database) -> ArchiveCounts:
    """Sources per domain, and per flag (the front page counts states and platforms)."""
    everything = select(Source.id)
    with db.session() as session:
        by_domain = Counter(host_of(url) for url in session.scalars(select(Source.url)))
        flags = {
            "never_preserved": session.scalar(
                select(func.count()).select_from(Source).where(_never_preserved())
            )
            or 0,
            "suspected": len(set(session.scalars(_suspected_sources()))),
            "incomplete": len(_incomplete(session, everything)),
        }
    return ArchiveCounts(dict(sorted(by_domain.items())), flags)


def state_changes(db: Database, today: date, days: int = 30) -> list[tuple[str, dict[str, int]]]:
    """Per day (UTC), oldest first, the ``days`` days up to ``today``: how many
    observations left a source in another state than the one before (a source starts
    ``pending``), by the state they led to."""
    before = func.lag(Observation.resulting_state).over(
        partition_by=Observation.source_id, order_by=Observation.id
    )
    steps = select(
        Observation.observed_at.label("at"),
        Observation.resulting_state.label("state"),
        before.label("before"),
    ).subquery()
    start = today - timedelta(days=days - 1)
    since = datetime.combine(start, time(), UTC)
    query = select(steps.c.at, steps.c.state).where(
        steps.c.at >= since, func.coalesce(steps.c.before, "pending") != steps.c.state
    )
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    with db.session() as session:
        for at, state in session.execute(query):
            per_day[at.astimezone(UTC).date()][state] += 1
    return [
        ((start + timedelta(days=i)).isoformat(), dict(per_day[start + timedelta(days=i)]))
        for i in range(days)
    ]
