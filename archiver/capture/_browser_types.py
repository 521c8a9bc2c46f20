"""The plain data a browser capture takes and gives back (re-exported by
:mod:`archiver.capture.browser`). Nothing here refers to Playwright, so the orchestrator can
write the WARC after the page and the browser are gone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archiver.capture.exchange import Exchange


@dataclass(frozen=True)
class BrowserRequest:
    """One request the page made, as Chromium was about to send it.

    ``headers`` are the pairs Chromium gave at interception time: they include Cookie,
    Referer, Origin and User-Agent, but not the ones its network stack adds later (Host,
    Connection, Accept-Encoding), which the fetcher sets itself."""

    url: str
    method: str
    headers: list[tuple[str, str]]
    # The request body (POST, PUT...), empty when there is none.
    post_body: bytes
    # Chromium's resource type, lower case: document, stylesheet, image, media, font,
    # script, xhr, fetch, prefetch, eventsource, ping, preflight, other, ...
    resource_type: str
    # A frame's document (the main frame's or an iframe's), redirect hops included.
    is_navigation: bool
    # The main frame's document (the page itself), redirect hops included.
    is_main_frame: bool
    # The URL of the document the request belongs to, when known.
    frame_url: str | None
    # The capture's deadline (``time.monotonic()``), when it has one: the fetch must be
    # done by then.
    deadline: float | None = None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


# The injected fetcher: applies the proxy, the private-address guard, politeness and size
# limits, and returns what happened on the wire (a failed Exchange rather than raising for
# network trouble). It is called once per redirect hop: it must not follow redirects.
# archiver.capture._browser_fetch.page_fetch makes one from the archiver's Fetcher.
FetchFn = Callable[[BrowserRequest], Awaitable[Exchange]]


@dataclass(frozen=True)
class PageCapture:
    """What a browser capture of one URL produced. Artefacts are None when they could not
    be made (failed navigation, budget spent, crash); why is in ``limits_hit``/``events``."""

    requested_url: str
    # page.url at the end; for a failed navigation, the last URL the main frame asked for.
    final_url: str
    title: str | None
    # Status of the main document finally displayed (None: the navigation failed).
    main_status: int | None
    # Every routed request, in the order Chromium started them, each with via="browser"
    # and resource_type set. Requests refused by max_resources are not exchanges (they
    # never reached the network); requests the budget cut are, with a TIMEOUT failure.
    exchanges: list[Exchange]
    # Index in ``exchanges`` of the main document finally displayed (or of the failed
    # one), and the URLs of its redirect hops, first to last.
    main_index: int | None
    redirect_chain: list[str]
    screenshot_png: bytes | None
    dom_html: bytes | None
    pdf: bytes | None
    # Small dicts, each with "type" and "at" (seconds since the capture started):
    # dialog, popup, download_refused, page_crash, browser_error, console_errors,
    # page_errors, main_frame_navigation, fetch_error, fulfill_error, decode_error, ...
    events: list[dict[str, Any]]
    # Human-readable lines naming the limit that cut something short.
    limits_hit: list[str]
    # Seconds: slot_wait, launch, navigation, scroll, settle, screenshot, dom, pdf,
    # artefacts, total.
    timings: dict[str, float]
    browser_version: str
    user_agent: str
    viewport: dict[str, int]
    started_at: datetime
    # Why the navigation failed (e.g. "net::ERR_NAME_NOT_RESOLVED"), None when it did not.
    error: str | None = None

    @property
    def main_exchange(self) -> Exchange | None:
        return None if self.main_index is None else self.exchanges[self.main_index]
