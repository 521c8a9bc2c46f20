"""Report feeds: RSS, Atom, or a listing page of a site that publishes monthly reports.

:func:`parse_feed` is pure: bytes in, report links out. The rest is the database and
network edge: feeds and the entries they listed are remembered (tables
``report_feeds`` and ``feed_entries``), so each report link is harvested once; a link
that could not be fetched is tried again at the next poll, one that was fetched but is
not a readable report is remembered with the reason and left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit

from lxml import etree, html  # type: ignore[import-untyped]
from sqlalchemy import select

from archiver.errors import ArchiverError, FeedError, FetchError
from archiver.harvest.fetch import fetch_report
from archiver.models import FeedEntry, ReportFeed

if TYPE_CHECKING:
    from archiver.app import Archive

log = logging.getLogger(__name__)

# Links on a listing page that are reports when no pattern is given: documents.
_DOCUMENT_SUFFIXES = (".pdf", ".docx", ".doc", ".odt", ".rtf", ".txt", ".md")
_DOCUMENT_TYPES = ("pdf", "msword", "officedocument", "opendocument", "text/plain", "markdown")
# New entries harvested per feed and poll; the rest wait for the next poll.
MAX_NEW_PER_POLL = 20


@dataclass(frozen=True)
class FeedItem:
    url: str
    title: str | None


@dataclass(frozen=True)
class ParsedFeed:
    kind: str  # "rss", "atom" or "listing"
    title: str | None
    items: tuple[FeedItem, ...]


def _local(tag: object) -> str:
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    value = " ".join("".join(element.itertext()).split())
    return value or None


def _child(element: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _is_document(url: str, media_type: str | None = None) -> bool:
    path = urlsplit(url).path.lower()
    if path.endswith(_DOCUMENT_SUFFIXES):
        return True
    return bool(media_type) and any(t in (media_type or "").lower() for t in _DOCUMENT_TYPES)


def _clean(url: str, base: str) -> str | None:
    absolute = urljoin(base, url.strip())
    parts = urlsplit(absolute)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return urlunsplit(parts._replace(fragment=""))


def _feed_items(root: etree._Element, base: str) -> tuple[str, str | None, list[FeedItem]]:
    kind = "atom" if _local(root.tag) == "feed" else "rss"
    channel = _child(root, "channel")
    title = _text(_child(channel if channel is not None else root, "title"))
    items: list[FeedItem] = []
    for entry in root.iter():
        if _local(entry.tag) not in {"item", "entry"}:
            continue
        link: str | None = None
        enclosure: str | None = None
        for child in entry:
            name = _local(child.tag)
            rel = (child.get("rel") or "alternate").lower()
            if name == "enclosure" and child.get("url"):
                if _is_document(child.get("url") or "", child.get("type")):
                    enclosure = child.get("url")
            elif name == "link" and child.get("href"):
                if rel == "enclosure" and _is_document(child.get("href") or "", child.get("type")):
                    enclosure = child.get("href")
                elif rel == "alternate" and link is None:
                    link = child.get("href")
            elif name == "link" and link is None:
                link = _text(child)
        # A report attached as a document is the report; otherwise the entry's page is.
        chosen = enclosure or link
        cleaned = _clean(chosen, base) if chosen else None
        if cleaned:
            items.append(FeedItem(cleaned, _text(_child(entry, "title"))))
    return kind, title, items


def _listing_items(
    data: bytes, base: str, pattern: re.Pattern[str] | None
) -> tuple[str | None, list[FeedItem]]:
    document = html.document_fromstring(data, base_url=base)
    title = _text(document.find(".//title"))
    items: list[FeedItem] = []
    site = urlsplit(base).hostname
    for anchor in document.iter("a"):
        href = anchor.get("href")
        cleaned = _clean(href, base) if href else None
        if cleaned is None:
            continue
        if pattern is not None:
            if not pattern.search(cleaned):
                continue
        elif not (_is_document(cleaned) and urlsplit(cleaned).hostname == site):
            continue
        items.append(FeedItem(cleaned, _text(anchor)))
    return title, items


def parse_feed(
    data: bytes, base_url: str, content_type: str | None = None, link_pattern: str | None = None
) -> ParsedFeed:
    """The report links a feed lists, in its order, each once."""
    head = data[:2048].lstrip().lower()
    looks_xml = head.startswith(b"<?xml") or b"<rss" in head or b"<feed" in head
    kind: str
    items: list[FeedItem]
    root = None
    if looks_xml or (content_type and "xml" in content_type and "html" not in content_type):
        parser = etree.XMLParser(
            recover=True, resolve_entities=False, no_network=True, huge_tree=False
        )
        with contextlib.suppress(etree.XMLSyntaxError):
            root = etree.fromstring(data, parser=parser)
    if root is not None and _local(root.tag) in {"rss", "feed", "rdf"}:
        kind, title, items = _feed_items(root, base_url)
    else:
        try:
            pattern = re.compile(link_pattern) if link_pattern else None
        except re.error as exc:
            raise FeedError(
                f"link pattern {link_pattern!r} is not a regular expression: {exc}"
            ) from exc
        try:
            title, items = _listing_items(data, base_url, pattern)
        except (etree.ParserError, ValueError) as exc:
            raise FeedError(f"{base_url}: neither a feed nor a readable page ({exc})") from exc
        kind = "listing"
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.url not in seen:
            seen.add(item.url)
            unique.append(item)
    return ParsedFeed(kind, title, tuple(unique))


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


# -- the database and network edge -------------------------------------------------------


@dataclass
class PollResult:
    feed_id: int
    url: str
    kind: str | None = None
    listed: int = 0
    new_reports: list[int] = field(default_factory=list)
    new_sources: int = 0
    failed: list[str] = field(default_factory=list)
    error: str | None = None


def add_feed(
    archive: Archive, url: str, *, actor: str, link_pattern: str | None = None
) -> ReportFeed:
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FeedError(f"{url}: a feed needs an http(s) URL")
    if link_pattern:
        try:
            re.compile(link_pattern)
        except re.error as exc:
            raise FeedError(f"link pattern {link_pattern!r}: {exc}") from exc
    url = url.strip()
    with archive.db.session() as session:
        existing = session.scalars(
            select(ReportFeed).where(ReportFeed.url_sha256 == url_hash(url))
        ).first()
        if existing is not None:
            existing.active = True
            return existing
        feed = ReportFeed(
            url=url,
            url_sha256=url_hash(url),
            added_at=archive.clock(),
            added_by=actor,
            link_pattern=link_pattern or None,
            active=True,
        )
        session.add(feed)
        session.flush()
        return feed


def list_feeds(archive: Archive) -> list[ReportFeed]:
    with archive.db.session() as session:
        return list(session.scalars(select(ReportFeed).order_by(ReportFeed.id)))


def remove_feed(archive: Archive, ref: str) -> ReportFeed:
    """Stop polling a feed (by id or URL); what it brought in stays."""
    with archive.db.session() as session:
        query = select(ReportFeed)
        query = query.where(
            ReportFeed.id == int(ref) if ref.isdigit() else ReportFeed.url_sha256 == url_hash(ref)
        )
        feed = session.scalars(query).first()
        if feed is None:
            raise FeedError(f"{ref}: no such feed")
        feed.active = False
        return feed


def poll_feed(archive: Archive, feed: ReportFeed) -> PollResult:
    """Fetch one feed and harvest the report links not seen before."""
    result = PollResult(feed.id, feed.url)
    settings = archive.settings
    error: str | None = None
    try:
        fetched = fetch_report(
            feed.url,
            settings.network,
            max_bytes=settings.harvest.max_report_bytes,
            deadline=settings.harvest.fetch_deadline,
        )
        parsed = parse_feed(
            fetched.data, fetched.final_url, fetched.content_type, feed.link_pattern
        )
        result.kind, result.listed = parsed.kind, len(parsed.items)
        with archive.db.session() as session:
            known = set(
                session.scalars(select(FeedEntry.url_sha256).where(FeedEntry.feed_id == feed.id))
            )
        fresh = [item for item in parsed.items if url_hash(item.url) not in known]
        for item in fresh[:MAX_NEW_PER_POLL]:
            _harvest_entry(archive, feed, item, result)
    except ArchiverError as exc:
        error = str(exc)
        result.error = error
    with archive.db.session() as session:
        row = session.get(ReportFeed, feed.id)
        if row is not None:
            row.last_polled_at = archive.clock()
            row.last_error = error
    return result


def _harvest_entry(archive: Archive, feed: ReportFeed, item: FeedItem, result: PollResult) -> None:
    report_id: int | None = None
    problem: str | None = None
    try:
        outcome = archive.add_url(item.url, actor=f"feed:{feed.id}")
        report_id = outcome.report_id
        result.new_sources += outcome.new_sources
        if not outcome.already_stored:
            result.new_reports.append(outcome.report_id)
    except FetchError as exc:
        # Not remembered: a network failure is tried again at the next poll.
        result.failed.append(f"{item.url}: {exc}")
        return
    except ArchiverError as exc:
        problem = str(exc)
        result.failed.append(f"{item.url}: {exc}")
    with archive.db.session() as session:
        session.add(
            FeedEntry(
                feed_id=feed.id,
                url=item.url,
                url_sha256=url_hash(item.url),
                title=item.title,
                first_seen_at=archive.clock(),
                report_id=report_id,
                error=problem,
            )
        )


def due_feeds(archive: Archive, now: datetime) -> list[ReportFeed]:
    interval = timedelta(seconds=archive.settings.web.feed_poll_interval)
    return [
        feed
        for feed in list_feeds(archive)
        if feed.active and (feed.last_polled_at is None or now - feed.last_polled_at >= interval)
    ]


def poll_due_feeds(archive: Archive) -> list[PollResult]:
    results = []
    for feed in due_feeds(archive, archive.clock()):
        result = poll_feed(archive, feed)
        if result.error:
            log.warning("feed %s: %s", feed.url, result.error)
        elif result.new_reports or result.failed:
            log.info(
                "feed %s: %d new reports, %d new sources%s",
                feed.url,
                len(result.new_reports),
                result.new_sources,
                f", {len(result.failed)} links not added" if result.failed else "",
            )
        results.append(result)
    return results


async def feed_loop(
    archive: Archive, stop: asyncio.Event, on_new_sources: Callable[[], None]
) -> None:
    """Poll due feeds until ``stop`` is set; a new feed is polled within a minute."""
    while not stop.is_set():
        results = await asyncio.to_thread(poll_due_feeds, archive)
        if any(r.new_sources for r in results):
            on_new_sources()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                stop.wait(), timeout=min(60.0, archive.settings.web.feed_poll_interval)
            )
