"""Answering every request a page makes from the injected fetcher.

Interception uses the DevTools ``Fetch`` domain on the *browser* target rather than
Playwright's ``route()``: Playwright lets redirect hops go to the network unrouted ("as
designed", microsoft/playwright#3994, #23301), so a fulfilled 301 would send the next hop
straight to Chromium's network stack. Browser-wide ``Fetch`` pauses every hop, and also
requests of out-of-process iframes, workers and prefetches, before Chromium's network
stack sees them. Each Chromium serves one capture at a time (see
:mod:`archiver.capture.browser`), so every paused request belongs to the current router.

Each request becomes one :class:`Exchange` (kept in the order Chromium started them); the
page gets the decoded body, or the network error matching the failure.

The operator's session (:class:`~archiver.capture.session.OperatorSession`) is applied
here, on the wire: its cookies are added to the Cookie header of requests for their own
hosts, and Set-Cookie headers naming them are kept from Chromium. The browser's cookie jar
never holds them, so no script of the archived page can read them (``document.cookie``)
or send them elsewhere.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import CDPSession
from playwright.async_api import Error as PlaywrightError

from archiver.capture._browser_bodies import STREAM_BYTES, BodyServer, Delivery
from archiver.capture._browser_types import BrowserRequest, FetchFn
from archiver.capture.decode import decode_body
from archiver.capture.exchange import Exchange, Failure, FailureKind, exception_text
from archiver.capture.session import OperatorSession

# Chromium's net error for each failure (Network.ErrorReason), so the page and its
# scripts see the kind of failure a reader's browser would have shown.
_ERROR_REASON = {
    FailureKind.DNS: "NameNotResolved",
    FailureKind.REFUSED: "ConnectionRefused",
    FailureKind.TIMEOUT: "TimedOut",
    FailureKind.RESET: "ConnectionReset",
    FailureKind.FORBIDDEN_ADDRESS: "AddressUnreachable",
}
# The body handed to Chromium is decoded and complete, so these would lie about it.
_DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_SECRET_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})
# Decoding and base64 of big bodies leave the event loop, so other requests keep moving.
_THREAD_BODY_BYTES = 1 << 20


@dataclass
class _Record:
    request: BrowserRequest
    request_id: str
    network_id: str | None
    frame_id: str | None
    started_at: datetime
    exchange: Exchange | None = None
    done: bool = False


def request_head(request: BrowserRequest) -> bytes:
    """An HTTP/1.1 request head for an exchange made up here (the fetcher never ran or
    was cut off), secrets redacted like the fetcher's."""
    parts = urlsplit(request.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{request.method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    for name, value in request.headers:
        if name.lower() == "host":
            continue
        lines.append(f"{name}: {'[redacted]' if name.lower() in _SECRET_HEADERS else value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def _body_for_browser(exchange: Exchange, limit: int) -> tuple[str, bool, str | None]:
    """The decoded body, base64 for DevTools, whether the limit cut it, any decode error."""
    if exchange.body is None or exchange.body.size == 0:
        return "", False, None
    decoded = decode_body(exchange.body.chunks(), exchange.header("content-encoding"), limit)
    return base64.b64encode(decoded.data).decode("ascii"), decoded.truncated, decoded.error


class Router:
    """The interception of one capture: fetches, fulfils, counts, remembers."""

    def __init__(
        self,
        fetch: FetchFn,
        cdp: CDPSession,
        *,
        max_resources: int,
        max_body_bytes: int,
        clock: Callable[[], datetime],
        started: float,
        session: OperatorSession | None = None,
        deadline: float | None = None,
        bodies: BodyServer | None = None,
    ) -> None:
        self._fetch = fetch
        self._bodies = bodies
        # Body server addresses handed to Chromium, dropped when the capture ends (one
        # Chromium never asked for would otherwise keep its body, and its spool file).
        self._addresses: list[str] = []
        self._deadline = deadline
        self._session = session
        self._cdp = cdp
        self._max_resources = max_resources
        self._max_body_bytes = max_body_bytes
        self._clock = clock
        self._started = started
        self._records: list[_Record] = []
        self._tasks: set[asyncio.Task[object]] = set()
        self._frame_urls: dict[str, str] = {}
        self._active = True
        self.main_frame_id: str | None = None
        # Frames whose requests do not hold up "settled" (closed popups).
        self.ignored_frames: set[str] = set()
        self.refused = 0
        self.last_activity = time.monotonic()
        self.events: list[dict[str, Any]] = []
        self.limits_hit: list[str] = []

    # --- interception ------------------------------------------------------------------

    def on_paused(self, event: dict[str, Any]) -> None:
        """``Fetch.requestPaused``: called synchronously by Playwright's event emitter."""
        if not self._active:
            self._spawn(self._fail(event["requestId"], "BlockedByClient"))
            return
        if len(self._records) >= self._max_resources:
            self.refused += 1
            self._spawn(self._fail(event["requestId"], "BlockedByClient"))
            return
        record = self._record(event)
        self._records.append(record)
        self.last_activity = time.monotonic()
        self._spawn(self._handle(record))

    def _record(self, event: dict[str, Any]) -> _Record:
        request = event["request"]
        frame_id = event.get("frameId")
        resource_type = str(event.get("resourceType") or "Other").lower()
        is_navigation = resource_type == "document"
        body = b"".join(
            base64.b64decode(entry.get("bytes", "")) for entry in request.get("postDataEntries", [])
        )
        if not body and request.get("postData"):
            body = str(request["postData"]).encode("utf-8")
        url = str(request["url"])
        browser_request = BrowserRequest(
            url=url,
            method=str(request["method"]),
            headers=[(str(k), str(v)) for k, v in request.get("headers", {}).items()],
            post_body=body,
            resource_type=resource_type,
            is_navigation=is_navigation,
            is_main_frame=is_navigation and frame_id is not None and frame_id == self.main_frame_id,
            frame_url=url if is_navigation else self._frame_urls.get(frame_id or ""),
            deadline=self._deadline,
        )
        return _Record(
            browser_request, event["requestId"], event.get("networkId"), frame_id, self._clock()
        )

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, record: _Record) -> None:
        try:
            try:
                exchange = await self._fetch(self._with_session(record.request))
            except Exception as exc:  # noqa: BLE001 - a fetcher bug must not wedge the page
                self.event("fetch_error", url=record.request.url, error=exception_text(exc))
                failure = Failure.other(f"{record.request.url}: the fetch raised", exc)
                exchange = self._failed(record, failure)
            exchange.via = "browser"
            exchange.resource_type = record.request.resource_type
            record.exchange = exchange
            await self._deliver(record, exchange)
        finally:
            record.done = True
            self.last_activity = time.monotonic()

    async def _deliver(self, record: _Record, exchange: Exchange) -> None:
        request_id = record.request_id
        if exchange.failure is not None or exchange.status is None:
            kind = exchange.failure.kind if exchange.failure else None
            await self._fail(request_id, _ERROR_REASON.get(kind, "Failed") if kind else "Failed")
            return
        if record.request.is_navigation and record.frame_id and exchange.location is None:
            self._frame_urls[record.frame_id] = record.request.url
        pairs = [
            (name, value)
            for name, value in exchange.response_headers
            if name.lower() not in _DROPPED_HEADERS
            and not self._session_cookie_set(record.request.url, name, value)
        ]
        if self._streamable(record.request, exchange, pairs):
            await self._continue_to_bodies(record, exchange, pairs)
            return
        if exchange.body is not None and exchange.body.size > _THREAD_BODY_BYTES:
            body, truncated, error = await asyncio.to_thread(
                _body_for_browser, exchange, self._max_body_bytes
            )
        else:
            body, truncated, error = _body_for_browser(exchange, self._max_body_bytes)
        self._decoded(record.request.url, truncated, error)
        params: dict[str, Any] = {
            "requestId": request_id,
            "responseCode": exchange.status,
            "body": body,
        }
        if all(name.isascii() and value.isascii() for name, value in pairs):
            params["responseHeaders"] = [{"name": n, "value": v} for n, v in pairs]
        else:
            # Raw bytes (UTF-8 filenames in Content-Disposition, say): the fetcher decoded
            # them as latin-1, so encoding back gives Chromium exactly what was received.
            raw = b"\0".join(f"{n}: {v}".encode("latin-1", "replace") for n, v in pairs)
            params["binaryResponseHeaders"] = base64.b64encode(raw).decode("ascii")
        if exchange.reason and exchange.reason.isascii():
            params["responsePhrase"] = exchange.reason
        try:
            await self._cdp.send("Fetch.fulfillRequest", params)
        except PlaywrightError as exc:
            # Either the request is gone (page closed, frame detached) or Chromium refused
            # the response (e.g. a header it cannot carry): then the page sees a failure.
            if await self._fail(request_id, "Failed"):
                self.event("fulfill_error", url=record.request.url, error=str(exc)[:300])

    def _decoded(self, url: str, truncated: bool, error: str | None) -> None:
        if truncated:
            self.limits_hit.append(
                f"max_response_bytes: {url} decoded for the browser only up to "
                f"{self._max_body_bytes} bytes"
            )
        if error:
            self.event("decode_error", url=url, error=error)

    def _streamable(
        self, request: BrowserRequest, exchange: Exchange, pairs: list[tuple[str, str]]
    ) -> bool:
        """Whether the body goes to Chromium over the body server's socket: large or
        compressed (a few KB of brotli can decode to the browser's whole limit), with
        a body to show, setting no cookie (which Chromium would file under the
        replacement address), and for a request without a body of its own (Chromium
        would send that to the body server again, which reads only the head)."""
        return (
            self._bodies is not None
            and not request.post_body
            and exchange.body is not None
            and (
                exchange.body.size > STREAM_BYTES
                or (exchange.header("content-encoding") or "identity").strip().lower() != "identity"
            )
            and exchange.status is not None
            and 200 <= exchange.status < 600
            and exchange.status not in (204, 304)
            and exchange.location is None
            and not any(name.lower() == "set-cookie" for name, _ in pairs)
        )

    async def _continue_to_bodies(
        self, record: _Record, exchange: Exchange, pairs: list[tuple[str, str]]
    ) -> None:
        assert self._bodies is not None
        url = record.request.url

        def done(truncated: bool, error: str | None) -> None:
            self._decoded(url, truncated, error)

        address = self._bodies.register(Delivery(exchange, pairs, self._max_body_bytes, done))
        self._addresses.append(address)
        try:
            await self._cdp.send(
                "Fetch.continueRequest", {"requestId": record.request_id, "url": address}
            )
        except PlaywrightError as exc:
            self._bodies.forget(address)
            if await self._fail(record.request_id, "Failed"):
                self.event("fulfill_error", url=url, error=str(exc)[:300])

    def _with_session(self, request: BrowserRequest) -> BrowserRequest:
        """The request with the session's cookies for its host added (the page's own
        cookies of the same names dropped); unchanged for every other host."""
        session = self._session
        added = session.cookie_header(request.url) if session is not None else None
        if session is None or added is None:
            return request
        names = set(session.cookie_names)
        own = [
            pair.strip()
            for name, value in request.headers
            if name.lower() == "cookie"
            for pair in value.split(";")
            if pair.strip() and pair.split("=", 1)[0].strip() not in names
        ]
        headers = [(n, v) for n, v in request.headers if n.lower() != "cookie"]
        headers.append(("Cookie", "; ".join([*own, added])))
        return dataclasses.replace(request, headers=headers)

    def _session_cookie_set(self, url: str, name: str, value: str) -> bool:
        """A Set-Cookie for one of the session's cookies, from one of its hosts: never
        handed to Chromium (the page could read a non-HttpOnly one)."""
        session = self._session
        if session is None or name.lower() != "set-cookie":
            return False
        cookie = value.split("=", 1)[0].strip()
        return cookie in session.cookie_names and session.cookie_header(url) is not None

    async def _fail(self, request_id: str, reason: str) -> bool:
        try:
            await self._cdp.send(
                "Fetch.failRequest", {"requestId": request_id, "errorReason": reason}
            )
        except PlaywrightError:
            return False  # the request is gone already
        return True

    def _failed(self, record: _Record, failure: Failure) -> Exchange:
        return Exchange(
            url=record.request.url,
            method=record.request.method,
            request_head=request_head(record.request),
            request_body=record.request.post_body,
            started_at=record.started_at,
            failure=failure,
            via="browser",
            resource_type=record.request.resource_type,
        )

    # --- what the capture asks ---------------------------------------------------------

    def event(self, kind: str, **details: Any) -> None:
        at = round(time.monotonic() - self._started, 3)
        self.events.append({"type": kind, "at": at, **details})

    def in_flight(self) -> int:
        """Requests not answered yet, closed popups' excepted."""
        return sum(1 for r in self._records if not r.done and r.frame_id not in self.ignored_frames)

    def quiet_for(self, now: float) -> float:
        """Seconds without any request in flight (0 while some are)."""
        return 0.0 if self.in_flight() else now - self.last_activity

    async def stop(self, *, crashed: bool = False) -> int:
        """Refuse further requests, cancel the fetches still running and record each as
        cut short (by the page budget, or by a crash). Returns how many were cut."""
        self._active = False
        if self._bodies is not None:
            for address in self._addresses:
                self._bodies.forget(address)
        pending = [task for task in self._tasks if not task.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        why = "the browser crashed" if crashed else "the capture ended (page budget)"
        cut = 0
        for record in self._records:
            if record.exchange is None:
                cut += 1
                record.exchange = self._failed(
                    record, Failure(FailureKind.TIMEOUT, f"{why} before a response")
                )
        if cut:
            limit = "browser crash" if crashed else "page_budget"
            self.limits_hit.append(
                f"{limit}: {cut} requests still in flight at the end were cancelled"
            )
        return cut

    def exchanges(self) -> list[Exchange]:
        return [r.exchange for r in self._records if r.exchange is not None]

    def main_document(self) -> tuple[int | None, list[str]]:
        """Index (in :meth:`exchanges`, after :meth:`stop`) of the main document finally
        shown, or of the last one tried, and the URLs of its redirect hops (the hops of
        one navigation share Chromium's network id)."""
        main = [i for i, r in enumerate(self._records) if r.request.is_main_frame]
        if not main:
            return None, []
        shown = [i for i in main if self._shown(self._records[i])]
        last = shown[-1] if shown else main[-1]
        network_id = self._records[last].network_id
        chain = [
            i
            for i in main
            if i <= last and network_id is not None and self._records[i].network_id == network_id
        ] or [last]
        return last, [self._records[i].request.url for i in chain]

    def finish(self) -> None:
        """Add the notes only known at the end: main-frame navigations after the first
        (the page replaced itself: meta refresh, script) and refused requests."""
        main = [r for r in self._records if r.request.is_main_frame]
        navigations = dict.fromkeys(r.network_id for r in main)
        for network in list(navigations)[1:]:
            first = next(r for r in main if r.network_id == network)
            self.event("main_frame_navigation", url=first.request.url)
        if self.refused:
            self.limits_hit.append(
                f"max_resources: {self._max_resources} requests, further requests aborted "
                f"({self.refused} refused)"
            )

    @staticmethod
    def _shown(record: _Record) -> bool:
        exchange = record.exchange
        return exchange is not None and exchange.status is not None and exchange.location is None
