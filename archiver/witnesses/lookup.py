"""Asking the archives (I/O at the edge): TimeMaps first, CDX as the fallback, then the
raw bytes of the copy nearest the target moment.

Every request goes through the capture's :class:`~archiver.capture.http.Fetcher`: the
proxy, per-host politeness and the private-network guard apply to archives as to any
other host, and each exchange is kept whole (the TimeMap answer is evidence of why
this copy was chosen). Nothing here raises for what an archive does: a 503, a timeout,
an empty TimeMap each become one line in ``asked``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from archiver.capture.exchange import Exchange
from archiver.capture.http import Fetcher, decode
from archiver.config import WitnessSettings
from archiver.witnesses.timemap import (
    Memento,
    cdx_query,
    merge,
    nearest,
    parse_cdx,
    parse_http_date,
    parse_timemap,
    raw_url,
)

# A TimeMap of a much-archived page lists tens of thousands of copies: read this much.
MAX_LIST_BYTES = 32 * 1024 * 1024


@dataclass
class Found:
    """What the archives answered for one URL: the copy fetched (its hops), or none."""

    asked: list[dict[str, str]] = field(default_factory=list)
    queries: list[Exchange] = field(default_factory=list)
    memento: Memento | None = None
    raw_url: str | None = None
    chain: list[Exchange] = field(default_factory=list)
    memento_datetime: datetime | None = None
    # Some archive answered (a list, even empty): "none" rather than "failed".
    answered: bool = False

    @property
    def outcome(self) -> str:
        if self.memento is not None:
            return "found"
        return "none" if self.answered else "failed"

    def message(self) -> str:
        if self.memento is not None and self.memento_datetime is not None:
            return (
                f"copy held by {self.memento.archive}, captured "
                f"{self.memento_datetime:%Y-%m-%d %H:%M} UTC"
            )
        asked = "; ".join(f"{a['archive']}: {a['result']}" for a in self.asked) or "none"
        return f"no earlier copy found (archives asked: {asked})"


def _host(url: str) -> str:
    return (urlsplit(url).hostname or url).lower()


def _answer(chain: Sequence[Exchange]) -> tuple[Exchange, str | None]:
    """The last hop, and why it is no usable answer (None: a 2xx with a body)."""
    last = chain[-1]
    if last.failure is not None:
        # The first line: a proxy's refusal carries its whole answer after it.
        detail = (last.failure.message.splitlines() or [str(last.failure.kind)])[0]
        return last, f"failed: {detail}"
    if last.status is None or not 200 <= last.status < 300:
        return last, f"answered HTTP {last.status}"
    return last, None


class ArchiveLookup:
    """One lookup per URL, with one fetcher shared by a batch of sources."""

    def __init__(
        self,
        settings: WitnessSettings,
        fetcher: Fetcher,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self._monotonic = monotonic

    def _deadline(self) -> float:
        return self._monotonic() + self.settings.timeout

    async def _list(
        self, found: Found, query: str, parse: Callable[[str], list[Memento]]
    ) -> list[Memento]:
        chain = await self.fetcher.fetch_chain(query, deadline=self._deadline())
        found.queries.extend(chain)
        last, problem = _answer(chain)
        if last.status == 404 and last.failure is None:
            # RFC 7089: a TimeMap of a URL the archive never captured is a 404.
            found.answered = True
            found.asked.append({"archive": _host(query), "url": query, "result": "no copy"})
            return []
        if problem is not None:
            found.asked.append({"archive": _host(query), "url": query, "result": problem})
            return []
        found.answered = True
        text = decode(last, MAX_LIST_BYTES).data.decode("utf-8", "replace")
        mementos = parse(text)
        result = f"{len(mementos)} copies" if mementos else "no copy"
        found.asked.append({"archive": _host(query), "url": query, "result": result})
        return mementos

    async def find(self, url: str, target: datetime) -> Found:
        """The copy of ``url`` nearest ``target`` that can be fetched, with everything
        asked on the way; TimeMaps in order, then the CDX APIs if no TimeMap listed any."""
        found = Found()
        lists = []
        for prefix in self.settings.timemaps:
            query = prefix + url
            lists.append(
                await self._list(found, query, functools.partial(parse_timemap, listed_by=query))
            )
        if not any(lists):
            for cdx in self.settings.cdx_urls:
                query = cdx_query(cdx, url)
                lists.append(
                    await self._list(found, query, functools.partial(parse_cdx, cdx_url=cdx))
                )
        for memento in nearest(merge(lists), target)[: self.settings.max_tries]:
            # The raw bytes where the archive has a raw mode, else the copy as it serves
            # it (archive.today and others have no id_: asked as listed).
            for url in dict.fromkeys((raw_url(memento.url), memento.url)):
                chain = await self.fetcher.fetch_chain(url, deadline=self._deadline())
                last, problem = _answer(chain)
                if problem is None:
                    break
                found.asked.append({"archive": memento.archive, "url": url, "result": problem})
                for hop in chain:
                    hop.close()
            if problem is not None:
                continue
            found.asked.append({"archive": memento.archive, "url": url, "result": "copy fetched"})
            found.memento = memento
            found.raw_url = url
            found.chain = chain
            header = last.header("memento-datetime")
            found.memento_datetime = (
                parse_http_date(header) if header else None
            ) or memento.datetime
            break
        return found
