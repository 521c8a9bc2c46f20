"""One browser capture: navigate, scroll, settle, then screenshot, DOM and PDF.

Runs in a fresh browser context on a Chromium that serves only this capture, with every
request answered by the :class:`~archiver.capture._browser_router.Router`. Nothing the
capture does changes the page's content: no clicks, no banner dismissal; scrolling only
triggers what a reader scrolling down would trigger (lazy images, infinite lists).
Dialogs are dismissed, popups closed and downloads refused, each recorded. Page or network
trouble never raises: the result says what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from playwright.async_api import (
    Browser,
    BrowserContext,
    CDPSession,
    ConsoleMessage,
    Dialog,
    Download,
    Page,
)
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from archiver.capture._browser_bodies import BodyServer
from archiver.capture._browser_budget import (
    QUIET_SECONDS,
    SCROLL_MAX_STEPS,
    SCROLL_PAUSE,
    SCROLL_SLACK,
    Budget,
)
from archiver.capture._browser_router import Router
from archiver.capture._browser_types import FetchFn, PageCapture
from archiver.capture.session import OperatorSession

T = TypeVar("T")

VIEWPORT = {"width": 1366, "height": 900}
# Widest screenshot kept: pages that overflow sideways are rare and mostly broken layout.
_MAX_SCREENSHOT_WIDTH = 4 * VIEWPORT["width"]
_CLOSE_TIMEOUT = 5.0
# A page that does not evaluate "1" within this is stuck in its own script.
_RESPONSIVE_SECONDS = 1.0

# Scroll down one viewport at a time (no smooth scrolling: "instant" overrides CSS
# scroll-behavior), each position left on screen for two animation frames (the frame
# that renders it runs the intersection observers, native lazy loading included, and the
# next one their callbacks have run before), at most ``pause`` ms when frames do not
# come. Stops at the bottom, after ``steps`` steps, or after ``ms``; returns why, the
# last position and the document height. In the page, so that no step waits for a round
# trip through Playwright.
_SCROLL_JS = """async ([steps, ms, pause]) => {
  const end = performance.now() + ms;
  const shown = () => new Promise((resolve) => {
    const timer = setTimeout(resolve, pause);
    requestAnimationFrame(() => requestAnimationFrame(() => {
      clearTimeout(timer);
      resolve();
    }));
  });
  let y = 0, height = 0;
  for (let step = 0; step < steps; step++) {
    if (performance.now() >= end) return ['budget', y, height];
    window.scrollTo({top: y, left: 0, behavior: 'instant'});
    const d = document.documentElement, b = document.body;
    height = Math.max(d ? d.scrollHeight : 0, b ? b.scrollHeight : 0);
    const view = window.innerHeight;
    await shown();
    if (y + view >= height || view <= 0) return ['bottom', y, height];
    y += view;
  }
  return ['steps', y, height];
}"""
# What a picture of the page could show: its text, form values and the address bar.
_VISIBLE_JS = """() => {
  const b = document.body, parts = [location.href, document.title];
  if (b) parts.push(b.innerText || '');
  for (const e of document.querySelectorAll('input, textarea')) parts.push(e.value || '');
  return parts.join('\\n');
}"""
_SIZE_JS = """() => {
  const d = document.documentElement, b = document.body;
  return [Math.max(d ? d.scrollWidth : 0, b ? b.scrollWidth : 0, window.innerWidth),
          Math.max(d ? d.scrollHeight : 0, b ? b.scrollHeight : 0, window.innerHeight)];
}"""


class BrowserUnavailable(Exception):
    """No page could be opened: the Chromium is gone. The pool relaunches and retries."""


class CaptureRun:
    """The state of one capture while it runs; :meth:`run` returns the result."""

    def __init__(
        self,
        *,
        browser: Browser,
        browser_cdp: CDPSession,
        install: Callable[[Router | None], None],
        url: str,
        fetch: FetchFn,
        budget: Budget,
        user_agent: str,
        max_resources: int,
        max_body_bytes: int,
        screenshot_max_height: int,
        session: OperatorSession | None,
        clock: Callable[[], datetime],
        bodies: BodyServer | None = None,
    ) -> None:
        self._browser = browser
        self._browser_cdp = browser_cdp
        self._install = install
        self._url = url
        self._budget = budget
        self._user_agent = user_agent
        self._max_height = screenshot_max_height
        self._session = session
        self._started_at = clock()
        self._router = Router(
            fetch,
            browser_cdp,
            max_resources=max_resources,
            max_body_bytes=max_body_bytes,
            clock=clock,
            started=budget.start,
            session=session,
            deadline=budget.deadline,
            bodies=bodies,
        )
        self._page: Page | None = None
        self._page_cdp: CDPSession | None = None
        self._crashed = False
        self._console_errors = 0
        self._terminated = False
        self._page_errors: list[str] = []
        self._side_tasks: set[asyncio.Task[None]] = set()
        self.timings: dict[str, float] = {}
        # The context would not close: the pool restarts this Chromium before reuse.
        self.wedged = False
        self._error: str | None = None
        self._title: str | None = None
        self._final_url = url
        self._screenshot: bytes | None = None
        self._dom: bytes | None = None
        self._pdf: bytes | None = None

    # --- the procedure -----------------------------------------------------------------

    async def run(self) -> PageCapture:
        """The whole capture. Raises :class:`BrowserUnavailable` when no page could even be
        opened (a Chromium that died between captures); nothing else."""
        context: BrowserContext | None = None
        self._install(self._router)
        try:
            try:
                context = await self._browser.new_context(
                    user_agent=self._user_agent,
                    viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
                    locale="en-US",
                    timezone_id="UTC",
                    service_workers="block",
                    accept_downloads=False,
                    # No storage_state: the operator's cookies would be in the page's
                    # jar (document.cookie). The router adds them on the wire instead.
                )
                page = self._page = await context.new_page()
                page_cdp = await context.new_cdp_session(page)
                info = await page_cdp.send("Target.getTargetInfo")
            except PlaywrightError as exc:
                raise BrowserUnavailable(_first_line(exc)) from exc
            self._page_cdp = page_cdp
            self._router.main_frame_id = str(info["targetInfo"]["targetId"])
            self._listen(context, page)
            await self._procedure(page)
        finally:
            await self._router.stop(crashed=self._crashed or not self._browser.is_connected())
            for task in self._side_tasks:
                task.cancel()
            if context is not None:
                try:
                    await asyncio.wait_for(context.close(), _CLOSE_TIMEOUT)
                except (PlaywrightError, TimeoutError):
                    self.wedged = True
                    self._router.event("browser_error", message="the browser context did not close")
            self._install(None)
        return self._result()

    async def _procedure(self, page: Page) -> None:
        try:
            shown = await self._timed("navigation", self._navigate(page))
            if shown and not self._gone(page):
                await self._unstick(page)
                await self._timed("scroll", self._scroll(page))
            if shown and not self._gone(page):
                await self._timed("settle", self._settle(page))
            if shown and not self._gone(page):
                await self._unstick(page)
                self._title = await self._bounded(page.title(), 1.0)
                await self._timed("artefacts", self._artefacts(page))
            if self._gone(page):
                self._router.limits_hit.append(
                    "page crashed: capture incomplete"
                    if self._crashed
                    else "browser crashed: capture incomplete"
                )
                if not self._browser.is_connected():
                    self._router.event("browser_crash")
            self._final_url = self._shown_url(page.url)
        except PlaywrightError as exc:
            # The page's target went away mid-step: keep what the capture holds so far
            # (the exchanges are evidence too).
            self._router.event("browser_error", message=_first_line(exc))
            self._final_url = self._shown_url(page.url)

    def _gone(self, page: Page) -> bool:
        """The page crashed or the whole browser died: no point waiting any longer."""
        return self._crashed or page.is_closed() or not self._browser.is_connected()

    async def _navigate(self, page: Page) -> bool:
        """Load the page. True when a document from the site is displayed (even if the
        load event never came), False when the navigation failed."""
        timeout = self._budget.artefacts_at - time.monotonic()
        if timeout <= 0.05:
            self._router.limits_hit.append("page_budget: spent before the navigation started")
            self._error = "page budget spent before the navigation"
            return False
        try:
            await page.goto(self._url, wait_until="load", timeout=timeout * 1000)
        except PlaywrightTimeoutError:
            if _is_web_url(page.url):
                self._router.limits_hit.append(
                    f"page_budget: load event not reached within {timeout:.1f} s; "
                    "capturing what was rendered"
                )
                return True
            self._router.limits_hit.append(
                f"page_budget: main document not received within {timeout:.1f} s"
            )
            self._error = f"navigation timed out after {timeout:.1f} s"
            return False
        except PlaywrightError as exc:
            if _is_web_url(page.url):  # e.g. interrupted by the page's own redirect
                self._router.event("navigation_error", message=_first_line(exc))
                return True
            self._error = _first_line(exc).removeprefix("Page.goto: ").split(" at ")[0]
            return False
        return True

    async def _unstick(self, page: Page) -> None:
        """A page whose script never yields (an endless loop) answers nothing: no scroll,
        no screenshot, no DOM. Its execution is terminated and its scripts disabled, so
        what it has rendered can still be recorded, and the snapshot says so."""
        if self._terminated or self._page_cdp is None:
            return
        if await self._bounded(page.evaluate("() => 1"), _RESPONSIVE_SECONDS) == 1:
            return
        self._terminated = True
        cdp = self._page_cdp
        await self._bounded(cdp.send("Runtime.terminateExecution"), 2.0)
        await self._bounded(cdp.send("Emulation.setScriptExecutionDisabled", {"value": True}), 2.0)
        self._router.limits_hit.append(
            f"script: the page's JavaScript did not yield within {_RESPONSIVE_SECONDS:g} s; "
            "its execution was terminated and its scripts disabled so the screenshot, DOM "
            "and PDF could be made"
        )
        self._router.event("script_terminated")

    async def _scroll(self, page: Page) -> None:
        """Scroll down one viewport at a time to the bottom, then back to the top, so
        lazy content starts loading as it would for a reader."""
        left = self._budget.scroll_until(time.monotonic()) - time.monotonic()
        try:
            if left <= 0:
                self._router.limits_hit.append("page_budget: no time left for scrolling")
                return
            work = page.evaluate(_SCROLL_JS, [SCROLL_MAX_STEPS, left * 1000, SCROLL_PAUSE * 1000])
            ended, y, height = await asyncio.wait_for(work, left + SCROLL_SLACK)
            if ended == "budget":
                self._router.limits_hit.append(
                    f"page_budget: scrolling stopped at {y} px of {height} px"
                )
            elif ended == "steps":
                self._router.limits_hit.append(
                    f"scroll: stopped after {SCROLL_MAX_STEPS} steps at {y} px of {height} px"
                )
        except TimeoutError:
            self._router.limits_hit.append("page_budget: the page did not respond while scrolling")
        except PlaywrightError as exc:
            self._router.event("scroll_error", message=_first_line(exc))
        finally:
            await self._bounded(page.evaluate("() => window.scrollTo(0, 0)"), 1.0)

    async def _settle(self, page: Page) -> None:
        """Wait until no routed request has been in flight for QUIET_SECONDS, or until
        the time reserved for the artefacts comes."""
        while time.monotonic() < self._budget.artefacts_at and not self._gone(page):
            if self._router.quiet_for(time.monotonic()) >= QUIET_SECONDS:
                return
            await asyncio.sleep(0.05)
        if not self._gone(page) and self._router.quiet_for(time.monotonic()) < QUIET_SECONDS:
            self._router.limits_hit.append(
                f"page_budget: reached during settle ({self._router.in_flight()} requests in "
                "flight; the network never went idle)"
            )

    async def _shows_secret(self, page: Page) -> bool:
        """Would a picture of the page show a value of the operator's session? (A site
        echoing a cookie into the page.) Undecidable counts as yes: better no picture
        than a picture of the operator's login."""
        if self._session is None or not self._session.secrets:
            return False
        shown = await self._bounded(page.evaluate(_VISIBLE_JS), 2.0)
        return shown is None or self._session.secrets.found_in(str(shown))

    async def _artefacts(self, page: Page) -> None:
        budget = self._budget
        if await self._shows_secret(page):
            self._router.limits_hit.append(
                "screenshot and PDF withheld: the page displays a value of the operator's "
                "session (platforms.facebook_session); the DOM is kept with it redacted"
            )
            started = time.monotonic()
            dom = await self._artefact("dom", budget.dom_timeout(started), page.content())
            self._dom = dom.encode("utf-8") if dom is not None else None
            return
        size = await self._bounded(page.evaluate(_SIZE_JS), 2.0)
        width, height = (int(size[0]), int(size[1])) if size else (0, 0)
        started = time.monotonic()
        self._screenshot = await self._artefact(
            "screenshot",
            budget.screenshot_timeout(started),
            self._take_screenshot(page, width, height, budget.screenshot_timeout(started)),
        )
        self.timings["screenshot"] = round(time.monotonic() - started, 3)
        started = time.monotonic()
        dom = await self._artefact("dom", budget.dom_timeout(started), page.content())
        self._dom = dom.encode("utf-8") if dom is not None else None
        self.timings["dom"] = round(time.monotonic() - started, 3)
        started = time.monotonic()
        pdf_timeout = budget.pdf_timeout(started)
        if pdf_timeout is None:
            self._router.limits_hit.append("page_budget: no time left for the PDF")
            return
        self._pdf = await self._artefact(
            "pdf", pdf_timeout, page.pdf(format="A4", print_background=True)
        )
        self.timings["pdf"] = round(time.monotonic() - started, 3)

    async def _take_screenshot(self, page: Page, width: int, height: int, timeout: float) -> bytes:
        if width <= 0 or height <= 0:  # size unknown (script-blocked page): the viewport
            return await page.screenshot(timeout=timeout * 1000)
        clip_height = min(height, self._max_height)
        clip_width = min(width, _MAX_SCREENSHOT_WIDTH)
        if height > self._max_height:
            self._router.limits_hit.append(
                f"screenshot clipped to {self._max_height} px of {height}"
            )
        if width > _MAX_SCREENSHOT_WIDTH:
            self._router.limits_hit.append(
                f"screenshot clipped to {_MAX_SCREENSHOT_WIDTH} px wide of {width}"
            )
        clip = {"x": 0, "y": 0, "width": clip_width, "height": clip_height}
        return await page.screenshot(full_page=True, clip=clip, timeout=timeout * 1000)  # type: ignore[arg-type]

    async def _artefact(self, name: str, timeout: float, work: Awaitable[T]) -> T | None:
        try:
            return await asyncio.wait_for(work, timeout + 0.5)
        except (TimeoutError, PlaywrightTimeoutError):
            self._router.limits_hit.append(f"page_budget: {name} not made within {timeout:.1f} s")
        except PlaywrightError as exc:
            self._router.event("artefact_error", artefact=name, message=_first_line(exc))
        return None

    # --- events ------------------------------------------------------------------------

    def _listen(self, context: BrowserContext, page: Page) -> None:
        page.on("dialog", self._on_dialog)
        page.on("download", self._on_download)
        page.on("crash", self._on_crash)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self._page_errors.append(str(error)[:300]))
        context.on("page", self._on_new_page)

    def _side(self, work: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(_quietly(work))
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    def _on_dialog(self, dialog: Dialog) -> None:
        self._router.event(
            "dialog", dialog_type=dialog.type, message=dialog.message[:1000], action="dismissed"
        )
        self._side(dialog.dismiss())

    def _on_download(self, download: Download) -> None:
        self._router.event(
            "download_refused", url=download.url, filename=download.suggested_filename
        )
        self._side(download.cancel())

    def _on_crash(self, _page: Page) -> None:
        self._crashed = True
        self._router.event("page_crash")

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self._console_errors += 1

    def _on_new_page(self, popup: Page) -> None:
        if popup is self._page:
            return
        self._router.event("popup", url=popup.url, action="closed")
        self._side(self._close_popup(popup))

    async def _close_popup(self, popup: Page) -> None:
        # Its requests are routed (and recorded) too, but must not hold up "settled":
        # every page target other than ours is a popup, as this browser is ours alone.
        with contextlib.suppress(PlaywrightError):
            targets = await self._browser_cdp.send("Target.getTargets")
            for target in targets.get("targetInfos", []):
                target_id = str(target.get("targetId"))
                if target.get("type") == "page" and target_id != self._router.main_frame_id:
                    self._router.ignored_frames.add(target_id)
        await popup.close()

    # --- helpers -----------------------------------------------------------------------

    async def _timed(self, name: str, work: Awaitable[T]) -> T:
        started = time.monotonic()
        try:
            return await work
        finally:
            self.timings[name] = round(time.monotonic() - started, 3)

    async def _bounded(self, work: Awaitable[T], timeout: float) -> T | None:
        try:
            return await asyncio.wait_for(work, timeout)
        except (TimeoutError, PlaywrightError):
            return None

    def _shown_url(self, page_url: str) -> str:
        if _is_web_url(page_url):
            return page_url
        _, chain = self._router.main_document()
        return chain[-1] if chain else self._url

    def _result(self) -> PageCapture:
        main_index, chain = self._router.main_document()
        exchanges = self._router.exchanges()
        main = exchanges[main_index] if main_index is not None else None
        if self._console_errors:
            self._router.event("console_errors", count=self._console_errors)
        if self._page_errors:
            self._router.event(
                "page_errors", count=len(self._page_errors), first=self._page_errors[0]
            )
        self._router.finish()
        self.timings["total"] = round(time.monotonic() - self._budget.start, 3)
        return PageCapture(
            requested_url=self._url,
            final_url=self._final_url,
            title=self._title,
            main_status=main.status if main is not None and self._error is None else None,
            exchanges=exchanges,
            main_index=main_index,
            redirect_chain=chain,
            screenshot_png=self._screenshot,
            dom_html=self._dom,
            pdf=self._pdf,
            events=list(self._router.events),
            limits_hit=list(self._router.limits_hit),
            timings=dict(self.timings),
            browser_version=self._browser.version,
            user_agent=self._user_agent,
            viewport=dict(VIEWPORT),
            started_at=self._started_at,
            error=self._error,
        )


def _is_web_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def _quietly(work: Awaitable[None]) -> None:
    # The page or the dialog may be gone first: then there is nothing left to do.
    with contextlib.suppress(PlaywrightError):
        await work
