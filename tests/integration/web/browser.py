"""What the browser tests share: the app on a real loopback HTTP server, Debian's
Chromium through Playwright, logging in, waiting for text in any frame, and the folder
where their screenshots are kept (tests/artifacts/web/, kept by CI, not in git)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from archiver.app import Archive
from archiver.web import create_app
from tests.conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts" / "web"
AXE = REPO / ".tools-npm" / "axe-core" / "axe.min.js"
REPLAYWEBPAGE = REPO / ".tools-npm" / "replaywebpage"

needs_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK), reason="Debian's Chromium is missing"
)


@contextmanager
def serve(archive: Archive) -> Iterator[str]:
    """The app on a real HTTP server on a free loopback port; its origin. The socket is
    bound here and handed to the server, so no other test process can take the port
    between choosing it and listening on it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(archive), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def log_in(page: Any, site: str, token: str, path: str = "/") -> None:
    from playwright.sync_api import expect

    page.goto(f"{site}/login?next={path}")
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{site}{path}", timeout=30_000)


def frames_text(page: Any) -> str:
    """The visible text of the page and every frame in it (a replay's frames included)."""
    from playwright.sync_api import Error as PlaywrightError

    texts = []
    for frame in page.frames:
        try:
            texts.append(frame.evaluate("document.body ? document.body.innerText : ''"))
        except PlaywrightError:  # a frame navigating away
            continue
    return "\n".join(texts)


def wait_for(page: Any, condition: Callable[[], Any], what: str, seconds: float = 60) -> Any:
    """Poll ``condition`` until it is truthy, failing with ``what`` after ``seconds``.
    Between polls Playwright's own wait lets its events in (frames attached...): the
    synchronous API takes them only while one of its calls runs."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {seconds:.0f} s: {what}"
        page.wait_for_timeout(250)


def no_sideways_scroll(page: Any, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url}: {scroll} px wide at {width}"


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def launch(pw: Any) -> Any:
    """Chromium with the network to anything but this machine blocked: every name
    resolves to nothing (127.0.0.1 is asked by address)."""
    return pw.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"],
    )


class Watch:
    """Every request of a browser context, the service worker's too (set
    PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS=1 before starting Playwright): what
    went elsewhere than ``site``, what failed, what the server refused, what the console
    called an error (a Content-Security-Policy violation among them)."""

    def __init__(self, context: Any, site: str) -> None:
        self.site = site
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.refused: list[str] = []
        self.errors: list[str] = []
        # Pages asked for on purpose that answer an error (a "Not found" page).
        self.refusals_asked: set[str] = set()
        context.on("request", self._request)
        context.on("requestfailed", self._failed)
        context.on("response", self._response)
        context.on("console", self._console)

    def _request(self, request: Any) -> None:
        if not request.url.startswith((self.site + "/", "data:", "blob:", "about:")):
            self.outside.append(request.url)

    def _failed(self, request: Any) -> None:
        # Cut short by the client, not refused: the replay's worker stops reading a WACZ
        # range once it has what it needs; the test moving on to the next page stops
        # what the last one still loads. A blocked request (policy, no such host) and an
        # error answer are other failures.
        if request.failure == "net::ERR_ABORTED":
            return
        # The replay's worker script fetched again (Chromium's update check on a
        # navigation) and cancelled as the page that asked goes away: seen as ERR_FAILED
        # on a loaded machine. A worker that cannot be fetched at all shows otherwise:
        # the replay never starts, and every replay test waits for the archived page.
        if request.url.endswith("/replay/sw.js") and request.failure == "net::ERR_FAILED":
            return
        self.failed.append(f"{request.url}: {request.failure}")

    def _response(self, response: Any) -> None:
        # Answers the replay's worker makes up itself (a part of the archived page that
        # was not captured) never reach the network.
        if (
            response.status >= 400
            and not response.from_service_worker
            and response.url not in self.refusals_asked
            and not self._replay_starting(response.url)
        ):
            self.refused.append(f"{response.url}: {response.status}")

    def _replay_starting(self, url: str) -> bool:
        """ReplayWeb.page's app asking its worker's API (/replay/w/...) from a frame the
        worker does not control yet (it reloads the frame, and asks again): the server
        has no such API and says so; the request never leaves the archiver."""
        return url.startswith(f"{self.site}/replay/w/")

    def _console(self, message: Any) -> None:
        # "Failed to load resource" repeats a response seen above (where the worker's
        # own answers are told apart from the server's).
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def problems(self) -> dict[str, list[str]]:
        found = {
            "outside": self.outside,
            "failed": self.failed,
            "refused": self.refused,
            "console errors": self.errors,
        }
        return {k: v for k, v in found.items() if v}

    def clear(self) -> None:
        for found in (self.outside, self.failed, self.refused, self.errors):
            found.clear()


def frame_holding(page: Any, text: str, seconds: float = 60) -> Any:
    """The first frame other than the page itself whose text holds ``text``."""
    from playwright.sync_api import Error as PlaywrightError

    def find() -> Any:
        for frame in page.frames:
            if frame == page.main_frame:
                continue
            try:
                if text in frame.evaluate("document.body ? document.body.innerText : ''"):
                    return frame
            except PlaywrightError:  # a frame navigating away
                continue
        return None

    try:
        return wait_for(page, find, f"{text!r} in a frame of {page.url}", seconds)
    except AssertionError as exc:
        frames = [f"{f.url[:120]}: {_body(f)[:160]!r}" for f in page.frames]
        raise AssertionError(f"{exc}; frames: {frames}") from None


def _body(frame: Any) -> str:
    from playwright.sync_api import Error as PlaywrightError

    try:
        return str(frame.evaluate("document.body ? document.body.innerText : ''"))
    except PlaywrightError as exc:
        return f"({exc.message})"
