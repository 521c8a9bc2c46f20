"""Adding reports and feeds from the web (admin): an upload, a report URL, a feed URL."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from fastapi import UploadFile

from archiver.errors import ArchiverError, ReportTooLargeError
from archiver.harvest import feeds
from archiver.models import ReportFeed
from archiver.web._context import WebContext
from archiver.web._queries import iso
from archiver.web.tokens import Principal

_CHUNK = 1 << 20


def _read_upload(upload: UploadFile, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := upload.file.read(_CHUNK):
        total += len(chunk)
        if total > limit:
            raise ReportTooLargeError(
                f"{upload.filename}: more than {limit} bytes (harvest.max_report_bytes)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def add_report(
    ctx: WebContext, principal: Principal, *, url: str | None, upload: UploadFile | None
) -> dict[str, Any]:
    archive = ctx.archive
    if upload is not None and upload.filename:
        # Only the base name: the client's path is neither trusted nor kept.
        name = PurePath(upload.filename.replace("\\", "/")).name or "report"
        data = _read_upload(upload, ctx.settings.harvest.max_report_bytes)
        outcome = archive.add_bytes(
            data,
            origin=f"{principal.actor}:upload:{name}",
            filename=name,
            content_type=upload.content_type,
            actor=principal.actor,
        )
    elif url and url.strip():
        outcome = archive.add_url(url.strip(), actor=principal.actor)
    else:
        raise ArchiverError("give a report file to upload, or the URL of a report")
    # A new report's custody entry ("report_added" by this user) is written with it.
    return outcome.as_json()


def add_feed(
    ctx: WebContext, principal: Principal, url: str, link_pattern: str | None = None
) -> dict[str, Any]:
    feed = feeds.add_feed(ctx.archive, url, actor=principal.actor, link_pattern=link_pattern)
    return _feed_json(feed)


def feed_list(ctx: WebContext) -> list[dict[str, Any]]:
    return [_feed_json(f) for f in feeds.list_feeds(ctx.archive)]


def _feed_json(feed: ReportFeed) -> dict[str, Any]:
    return {
        "id": feed.id,
        "url": feed.url,
        "active": feed.active,
        "link_pattern": feed.link_pattern,
        "added_at": iso(feed.added_at),
        "added_by": feed.added_by,
        "last_polled_at": iso(feed.last_polled_at),
        "last_error": feed.last_error,
    }
