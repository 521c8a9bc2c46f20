"""The light HTTP probe: one GET (redirects followed) through the capture's own
:class:`~archiver.capture.http.Fetcher`, so a check obeys exactly the network policy
(proxy, private-address guard, TLS handling) and per-host politeness that a capture
does. Nothing is written to disk: a check keeps what it saw in the database; when the
source is found altered, a full capture makes the new snapshot.

Platforms that need a browser or yt-dlp (Facebook, YouTube) get their verdict from the
platform recogniser applied to the probe's HTML (:mod:`archiver.check.classify`);
a richer probe can implement the same ``probe(url)`` shape.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

from archiver.capture.exchange import Exchange
from archiver.capture.http import Fetcher, decode
from archiver.check import text as texts
from archiver.check.classify import NotFoundProfile, ProbeResult, host_of

_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)
_TEXTUAL = ("text/", "application/xhtml", "application/xml", "application/json")


class Probe(Protocol):
    async def probe(self, url: str) -> ProbeResult: ...

    async def not_found(self, url: str) -> NotFoundProfile | None: ...


def charset_of(content_type: str | None, head: bytes) -> str:
    for source in ((content_type or "").encode("latin-1", "replace"), head[:4096]):
        match = _CHARSET.search(source)
        if match:
            name = match.group(1).decode("ascii", "replace")
            try:
                "".encode(name)
            except LookupError:
                continue
            return name
    return "utf-8"


def page_text(exchange: Exchange, limit: int) -> str | None:
    """The exchange's body as text when it is a textual document, else None."""
    content_type = exchange.header("content-type")
    if content_type is not None and not content_type.lower().startswith(_TEXTUAL):
        return None
    decoded = decode(exchange, limit)
    return decoded.data.decode(charset_of(content_type, decoded.data), errors="replace")


def result_from_chain(url: str, chain: list[Exchange], text_limit: int) -> ProbeResult:
    last = chain[-1]
    failure = last.failure
    body = None
    payload_sha = None
    if last.ok:
        # Error pages are read too: "Video unavailable" comes with a status of its own.
        body = page_text(last, text_limit)
        if last.body is not None and last.status is not None and 200 <= last.status < 300:
            payload_sha = last.body.sha256
    return ProbeResult(
        url=url,
        final_url=last.url,
        status=None if failure is not None else last.status,
        failure=None if failure is None else failure.kind,
        failure_message=None if failure is None else failure.message,
        redirects=tuple(e.url for e in chain[:-1]),
        content_type=last.header("content-type"),
        html=body,
        payload_sha256=payload_sha,
    )


class HttpProbe:
    """Probes through a shared Fetcher. ``token`` makes the random path of the
    not-found probe (injectable for tests)."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        budget: float,
        text_limit: int = 4 * 1024 * 1024,
        token: Callable[[], str] = lambda: secrets.token_hex(12),
    ) -> None:
        self.fetcher = fetcher
        self.budget = budget
        self.text_limit = text_limit
        self.token = token

    async def probe(self, url: str) -> ProbeResult:
        chain = await self.fetcher.fetch_chain(url, deadline=time.monotonic() + self.budget)
        try:
            return result_from_chain(url, chain, self.text_limit)
        finally:
            for exchange in chain:
                exchange.close()

    async def not_found(self, url: str) -> NotFoundProfile | None:
        """Fetch a URL of ``url``'s host that cannot exist and fingerprint the answer;
        None when the host could not be reached (nothing learnt)."""
        parts = urlsplit(url)
        nonsense = f"{parts.scheme}://{parts.netloc}/{self.token()}-archiver-no-such-page"
        result = await self.probe(nonsense)
        if result.failure is not None or result.status is None:
            return None
        soft = 200 <= result.status < 300
        # Only a soft-404 page (2xx) is ever compared by its text.
        text = texts.normalize(texts.main_text(result.html or "")) if soft else ""
        return NotFoundProfile(
            host=host_of(url),
            status=result.status,
            final_url=None if result.final_url == nonsense else result.final_url,
            normalized_text=text,
        )
