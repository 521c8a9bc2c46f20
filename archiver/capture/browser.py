"""Browser capture: what a reader saw, with every request recorded.

Chromium (Debian's, through Playwright) renders the page but never touches the network:
every request it makes, redirect hops included, is paused by DevTools interception and
answered from the injected ``fetch`` (the archiver's HTTP fetcher: proxy, private-address
guard, politeness, size limits, raw bytes for the WARC). Chromium is launched with the
pool's body server (capture/_browser_bodies.py) as its only proxy and without name
resolution, so anything that escaped interception (a WebSocket, a preconnect) is refused
instead of reaching the network, and WebRTC may not send UDP around the proxy. Large
bodies reach Chromium through that server's socket rather than through Playwright.

The pool keeps ``browser_concurrency`` Chromium processes ("slots"), each launched lazily,
serving one capture at a time in a fresh browser context, relaunched when it died.
One process per running capture, rather than one shared process, makes "which capture
does this paused request belong to" trivial and exact, and confines a crash to one
capture.

Usage::

    async with BrowserPool(settings.capture, settings.network) as pool:
        result = await pool.capture_page(url, fetch, deadline=time.monotonic() + 60)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, CDPSession, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from archiver.capture._browser_bodies import BodyServer
from archiver.capture._browser_budget import Budget
from archiver.capture._browser_router import Router
from archiver.capture._browser_session import VIEWPORT, BrowserUnavailable, CaptureRun
from archiver.capture._browser_types import BrowserRequest, FetchFn, PageCapture
from archiver.capture.session import OperatorSession
from archiver.clock import utc_now
from archiver.config import CaptureSettings, NetworkSettings
from archiver.errors import CaptureError

__all__ = [
    "CHROMIUM_ARGS",
    "VIEWPORT",
    "BrowserPool",
    "BrowserRequest",
    "FetchFn",
    "PageCapture",
]

# Chromium's proxy is the pool's body server (capture/_browser_bodies.py): whatever
# escapes the interception arrives there and is refused. Playwright adds
# "--proxy-bypass-list=<-loopback>", so loopback addresses go there too.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    # WebRTC would otherwise send STUN over UDP straight to any address a page names,
    # revealing the archiver's own address to the site (checked by the tests).
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    # Nothing in Chromium needs to resolve a name: the fetcher does it (or its proxy).
    # The exception: its own proxy, the body server on 127.0.0.1.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
_LAUNCH_TIMEOUT_MS = 30_000


class _Slot:
    """One Chromium process and its browser-wide interception."""

    def __init__(self) -> None:
        self.browser: Browser | None = None
        self._cdp: CDPSession | None = None
        self._router: Router | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def alive(self) -> bool:
        return self.browser is not None and self.browser.is_connected()

    def install(self, router: Router | None) -> None:
        self._router = router

    @property
    def cdp(self) -> CDPSession:
        assert self._cdp is not None
        return self._cdp

    async def launch(
        self, driver: Playwright, executable: str, args: Sequence[str], proxy: str
    ) -> None:
        await self.close()
        try:
            browser = await driver.chromium.launch(
                executable_path=executable,
                headless=True,
                args=list(args),
                proxy={"server": proxy},
                timeout=_LAUNCH_TIMEOUT_MS,
            )
            cdp = await browser.new_browser_cdp_session()
            cdp.on("Fetch.requestPaused", self._on_paused)
            # Request stage, every URL: nothing leaves before the fetcher has answered.
            await cdp.send(
                "Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}
            )
        except PlaywrightError as exc:
            raise CaptureError(f"could not start Chromium at {executable}: {exc}") from exc
        self.browser, self._cdp = browser, cdp

    def _on_paused(self, event: dict[str, Any]) -> None:
        router = self._router
        if router is not None:
            router.on_paused(event)
            return
        # Between captures (a closing page's last request): nobody may answer it.
        task = asyncio.get_running_loop().create_task(self._refuse(event["requestId"]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refuse(self, request_id: str) -> None:
        cdp = self._cdp
        if cdp is None:  # the slot was closed meanwhile: the request went with it
            return
        with contextlib.suppress(PlaywrightError):  # gone already
            await cdp.send(
                "Fetch.failRequest", {"requestId": request_id, "errorReason": "BlockedByClient"}
            )

    async def close(self) -> None:
        browser, self.browser, self._cdp = self.browser, None, None
        if browser is not None:
            # Dead or wedged: Playwright kills the process when its driver exits.
            with contextlib.suppress(PlaywrightError, TimeoutError):
                await asyncio.wait_for(browser.close(), 10.0)


class BrowserPool:
    """Chromium processes for browser captures (an async context manager)."""

    def __init__(
        self,
        capture: CaptureSettings,
        network: NetworkSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        extra_args: Sequence[str] = (),
    ) -> None:
        self._settings = capture
        self._user_agent = network.user_agent
        self._clock = clock
        self._args = (*CHROMIUM_ARGS, *extra_args)
        self._executable = str(capture.browser)
        self._slots = [_Slot() for _ in range(capture.browser_concurrency)]
        self._free: asyncio.Queue[_Slot] = asyncio.Queue()
        for slot in self._slots:
            self._free.put_nowait(slot)
        self._manager: Any = None
        self._driver: Playwright | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        # Large bodies go to Chromium through it; it is Chromium's proxy too.
        self._bodies = BodyServer()

    async def __aenter__(self) -> BrowserPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every Chromium and the Playwright driver. Idempotent."""
        self._closed = True
        for slot in self._slots:
            await slot.close()
        await self._bodies.close()
        async with self._lock:
            if self._manager is not None:
                manager, self._manager, self._driver = self._manager, None, None
                await manager.__aexit__(None, None, None)

    @property
    def bodies_streamed(self) -> int:
        """Large bodies handed to Chromium over the body server's socket so far."""
        return self._bodies.served

    @property
    def bodies_waiting(self) -> int:
        """Body server addresses handed to Chromium and not asked for yet."""
        return self._bodies.waiting

    async def _playwright(self) -> Playwright:
        async with self._lock:
            if self._driver is None:
                self._manager = async_playwright()
                self._driver = await self._manager.__aenter__()
            return self._driver

    async def capture_page(
        self,
        url: str,
        fetch: FetchFn,
        *,
        deadline: float | None = None,
        budget: float | None = None,
        operator_session: OperatorSession | None = None,
    ) -> PageCapture:
        """Capture ``url`` within ``deadline`` (a ``time.monotonic()`` value; waiting for
        a free slot and launching Chromium count against it), or within ``budget``
        seconds from the moment a slot is free for it (launching counts, waiting behind
        other captures does not: that queue is the archiver's, not the page's time).
        Each request handed to ``fetch`` carries the deadline. ``operator_session``: its
        cookies are added to requests for their own hosts by the interception, never put
        in the browser's cookie jar, where the page's scripts could read them.

        Page and network trouble is reported in the result, never raised. Raises
        :class:`CaptureError` only for the archiver's own problems: a URL that is not
        http(s), a closed pool, a Chromium that cannot start.
        """
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise CaptureError(f"not an http(s) URL: {url!r}")
        if self._closed:
            raise CaptureError("the browser pool is closed")
        if (deadline is None) == (budget is None):
            raise ValueError("give either a deadline or a budget")
        waiting = time.monotonic()
        slot = await self._free.get()
        try:
            if budget is not None:
                deadline = time.monotonic() + budget
            assert deadline is not None
            timings = {"slot_wait": round(time.monotonic() - waiting, 3)}
            for attempt in (1, 2):
                if not slot.alive or attempt == 2:
                    launching = time.monotonic()
                    await self._bodies.start()
                    await slot.launch(
                        await self._playwright(),
                        self._executable,
                        self._args,
                        self._bodies.proxy_url,
                    )
                    timings["launch"] = round(time.monotonic() - launching, 3)
                run = self._run(slot, url, fetch, deadline, operator_session)
                try:
                    result = await run.run()
                except BrowserUnavailable as exc:
                    # Died since the last capture, before Playwright noticed: start afresh.
                    if attempt == 2:
                        raise CaptureError(f"Chromium is not usable: {exc}") from exc
                    continue
                if run.wedged:
                    await slot.close()  # relaunched by the next capture
                result.timings.update(timings)
                return result
            raise AssertionError("unreachable")
        finally:
            self._free.put_nowait(slot)

    def _run(
        self,
        slot: _Slot,
        url: str,
        fetch: FetchFn,
        deadline: float,
        session: OperatorSession | None,
    ) -> CaptureRun:
        assert slot.browser is not None
        return CaptureRun(
            browser=slot.browser,
            browser_cdp=slot.cdp,
            install=slot.install,
            url=url,
            fetch=fetch,
            budget=Budget(start=time.monotonic(), deadline=deadline),
            user_agent=self._user_agent,
            max_resources=self._settings.max_resources,
            max_body_bytes=min(
                self._settings.max_response_bytes, self._settings.browser_max_body_bytes
            ),
            screenshot_max_height=self._settings.screenshot_max_height,
            session=session,
            clock=self._clock,
            bodies=self._bodies,
        )
