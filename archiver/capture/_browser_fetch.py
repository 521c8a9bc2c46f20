"""The requests of one browser page load, answered by the archiver's fetcher.

Politeness spaces page loads, not what one page load asks for (archiver.net.politeness):

- the main frame's documents (the page itself, each of its redirect hops, a later
  navigation of the main frame) are page loads: each takes the host's turn from the
  shared limiter (``capture.per_host_concurrency`` at once, ``capture.per_host_interval``
  apart, after any Retry-After);
- everything else the page asks for (images, scripts, styles, fonts, XHR, iframes) is
  fetched as a reader's browser fetches it, at once: at most
  :data:`~archiver.net.politeness.PAGE_CONNECTIONS_PER_HOST` in flight per host for this
  page, within its resource budget (``capture.max_resources``, the router's), a host's
  Retry-After still waited for.

Every request still goes through the same :class:`~archiver.capture.http.Fetcher`: the
proxy, the private-address guard and the size limits apply alike.
"""

from __future__ import annotations

from archiver.capture._browser_types import BrowserRequest, FetchFn
from archiver.capture.exchange import Exchange
from archiver.capture.http import Fetcher


def page_fetch(fetcher: Fetcher) -> FetchFn:
    """The fetch function of one page load (a new one for each capture)."""
    resources = fetcher.limiter.page_resources()

    async def fetch(request: BrowserRequest) -> Exchange:
        return await fetcher.fetch(
            request.url,
            method=request.method,
            headers=request.headers,
            body=request.post_body or b"",
            deadline=request.deadline,
            via="browser",
            resource_type=request.resource_type,
            politeness=None if request.is_main_frame else resources,
        )

    return fetch
