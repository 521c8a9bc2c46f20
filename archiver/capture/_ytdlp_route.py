"""yt-dlp's HTTP requests, sent by the archiver's own fetcher and kept as evidence.

yt-dlp fetches the watch page again, the player's API and then the media itself (the
format URLs, on YouTube from googlevideo.com, often in ranges of 10 MB). Each of those
requests goes through :class:`ArchiverRH`, a yt-dlp request handler that is the only
one its ``YoutubeDL`` has: it hands the request to the capture's
:class:`~archiver.capture.http.Fetcher` (on the capture's event loop, from yt-dlp's
worker thread) and gives yt-dlp the response the fetcher recorded. Every exchange is
kept and becomes a request/response record pair of the snapshot, beside the video's
resource record: the package shows which server (URL and IP address) sent which bytes.

Why route through the fetcher rather than record beside yt-dlp's own handlers (a
wrapper around its urllib or requests handler)? Everything that makes the archiver's
requests safe and honest applies to yt-dlp's too, with no second implementation:

- the private-network guard judges every address, redirects included (yt-dlp's own
  handlers would connect wherever a hostile page or redirect pointed);
- ``network.proxy``, the user agent, the per-host politeness (interval, concurrency,
  Retry-After) and the size limit are the capture's;
- TLS is verified against the system roots plus ``capture.extra_ca_file``; a
  certificate that does not verify is recorded ("certificate did not verify: ...") and
  the download goes on over an unverified connection, as for every page
  (:mod:`archiver.capture._http_tls`);
- the heads are stored as sent and received (credentials redacted) with the bytes as
  the server sent them, so the digests of the response records are of those bytes.

The price: the fetcher reads a response whole (spooled to disk past 1 MiB) before
yt-dlp sees it, so yt-dlp's progress is per request, not per block, and a video
occupies its bytes twice while it is captured (the responses and yt-dlp's file).

The overall deadline (``platforms.video_deadline``): every request carries it as its
deadline; a request cut by it, or asked for after it, ends the download, and
:attr:`VideoRoute.deadline_hit` says so (the snapshot's ``incomplete`` list then says
"the video download ran out of time after N s").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.capture.exchange import Exchange
from archiver.capture.http import Fetcher
from archiver.config import CaptureSettings, NetworkSettings
from archiver.errors import CaptureError

# Past the deadline, how long a request already under way may take to hand back what
# arrived (the fetcher cuts it at the deadline itself; this only guards a stuck loop).
_GRACE = 30.0


class VideoDeadlineError(CaptureError):
    """The video download's overall deadline has passed."""


class RouteClosedError(CaptureError):
    """The capture's event loop is gone (the run is stopping)."""


def deadline_message(seconds: float) -> str:
    """What the snapshot's ``incomplete`` list says when the deadline was hit."""
    return f"the video download ran out of time after {seconds:g} s (platforms.video_deadline)"


@dataclass
class VideoRoute:
    """Sends yt-dlp's requests with ``fetcher`` on ``loop``, and keeps the exchanges.

    ``deadline`` is a ``time.monotonic()`` value for the whole download; ``max_bytes``
    bounds one response."""

    fetcher: Fetcher
    loop: asyncio.AbstractEventLoop
    seconds: float
    max_bytes: int
    deadline: float = 0.0
    exchanges: list[Exchange] = field(default_factory=list)
    deadline_hit: bool = False
    closed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: set[concurrent.futures.Future[Exchange]] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.deadline:
            self.deadline = time.monotonic() + self.seconds

    def fetch(self, url: str, method: str, headers: list[tuple[str, str]], body: bytes) -> Exchange:
        """One exchange, sent from yt-dlp's thread; raises VideoDeadlineError past the
        deadline (and records that it was hit), RouteClosedError once closed."""
        if self.closed:
            raise RouteClosedError("the capture stopped")
        if time.monotonic() >= self.deadline:
            self.deadline_hit = True
            raise VideoDeadlineError(deadline_message(self.seconds))
        request = self.fetcher.fetch(
            url,
            method=method,
            headers=headers,
            body=body,
            deadline=self.deadline,
            via="ytdlp",
            resource_type="media",
            max_bytes=self.max_bytes,
        )
        exchange = self._run(request)
        with self._lock:
            self.exchanges.append(exchange)
        # Cut or failed at the deadline (a timeout, a politeness wait that outlasted it),
        # not by one read's network.timeout earlier: the fetcher's timer fires at the
        # deadline, a hair before this thread reads the clock.
        incomplete = exchange.truncated is not None or exchange.failure is not None
        if incomplete and time.monotonic() >= self.deadline - 0.05:
            self.deadline_hit = True
            raise VideoDeadlineError(deadline_message(self.seconds))
        return exchange

    def _run(self, request: Coroutine[Any, Any, Exchange]) -> Exchange:
        try:
            future = asyncio.run_coroutine_threadsafe(request, self.loop)
        except RuntimeError as exc:  # the loop is closed: the capture was stopped
            request.close()
            raise RouteClosedError("the capture stopped") from exc
        with self._lock:
            self._pending.add(future)
        if self.closed:  # closed while this request was being handed over
            future.cancel()
        wait = max(0.0, self.deadline - time.monotonic()) + _GRACE
        try:
            return future.result(timeout=wait)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            self.deadline_hit = True
            raise VideoDeadlineError(deadline_message(self.seconds)) from exc
        except concurrent.futures.CancelledError as exc:
            raise RouteClosedError("the capture stopped") from exc
        finally:
            with self._lock:
                self._pending.discard(future)

    def close(self) -> None:
        """No more requests: the one under way is cancelled, later ones fail at once (the
        capture was stopped; yt-dlp's thread then ends at its next request)."""
        self.closed = True
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.cancel()


@contextmanager
def standalone_route(
    network: NetworkSettings,
    capture: CaptureSettings,
    *,
    seconds: float,
    max_bytes: int,
    spool_dir: Path | None = None,
) -> Iterator[VideoRoute]:
    """A route with a fetcher of its own on an event loop in a thread of its own: for
    a download outside a capture run (a capture run passes its own fetcher)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="archiver-ytdlp-fetch", daemon=True)
    thread.start()

    async def make() -> Fetcher:
        return Fetcher(network, capture, spool_dir=spool_dir)

    fetcher = asyncio.run_coroutine_threadsafe(make(), loop).result()
    try:
        yield VideoRoute(fetcher, loop, seconds=seconds, max_bytes=max_bytes)
    finally:
        asyncio.run_coroutine_threadsafe(fetcher.aclose(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
