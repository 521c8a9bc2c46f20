"""Probes for platform sources (``check.platform_probes``): YouTube through yt-dlp,
Facebook's post text with the operator's session. Other sources keep the light HTTP
probe (:mod:`archiver.check.probe`).

- :class:`YtDlpProbe`: yt-dlp's metadata of the video (``extract_info`` with
  ``download=False``, the capture's options: proxy, user agent, JS runtime), read in a
  worker thread, each of its requests sent by the check's fetcher
  (:mod:`archiver.capture._ytdlp_route`: the address guard, TLS verification, the
  host's politeness slot and interval per request), all within
  ``check.probe_budget``; nothing it fetches is kept. An error is read
  by :func:`archiver.platforms.classify_ytdlp_error` (a bot check or "try again later" is
  blocked, never removed). An error that does not quote the platform (a network error,
  our proxy down, an HTTP 404 of one of its requests, "Unsupported URL") hands the check
  to the HTTP probe, so the page's own status decides and the outage guard sees network
  failures as it does for every other source.
- :class:`FacebookProbe`: the HTTP probe, with the operator's session cookies (for the
  post's own hosts only) when ``platforms.facebook_session`` is set, and the post's text
  read from the page as the capture reads it (:func:`archiver.platforms.extract_post`).

Both return a :class:`~archiver.check.classify.ProbeResult` carrying a
:class:`~archiver.check.classify.PlatformSeen`; :mod:`archiver.check.fields` judges it.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import httpx

from archiver.capture._http_heads import BROWSER_ACCEPT
from archiver.capture._ytdlp_route import VideoRoute
from archiver.capture.exchange import Exchange
from archiver.capture.http import Fetcher
from archiver.capture.media import read_metadata
from archiver.capture.session import OperatorSession, load_session, redact_logs
from archiver.check.classify import NotFoundProfile, PlatformSeen, ProbeResult
from archiver.check.probe import HttpProbe, Probe, result_from_chain
from archiver.config import Settings
from archiver.platforms import extract_post
from archiver.platforms.markers import Markers, load_markers

# yt-dlp errors that do not quote the platform (a network error, an HTTP status of
# some request it made, "Unsupported URL"): the HTTP probe looks at the page itself.
_NOT_ABOUT_THE_VIDEO = (None, "unreachable", "dead")


class YtDlpProbe:
    def __init__(
        self, settings: Settings, fetcher: Fetcher, http: HttpProbe, markers: Markers
    ) -> None:
        self._settings = settings
        self._fetcher = fetcher
        self._http = http
        self._markers = markers
        self._spool = settings.storage.root / "tmp"

    async def probe(self, url: str) -> ProbeResult:
        workdir = Path(tempfile.mkdtemp(prefix="probe-", dir=self._spool))
        budget = self._settings.check.probe_budget
        route = VideoRoute(
            self._fetcher,
            asyncio.get_running_loop(),
            seconds=budget,
            max_bytes=self._settings.capture.max_response_bytes,
            deadline=time.monotonic() + budget,
        )
        try:
            found = await asyncio.to_thread(
                read_metadata,
                url,
                workdir,
                self._settings.platforms,
                self._settings.network,
                self._markers,
                route=route,
            )
        except asyncio.CancelledError:
            route.close()
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            for exchange in route.exchanges:  # read, not kept
                exchange.close()
        signal = found.signal
        if found.fields is None and (
            signal is None or signal.implied_state in _NOT_ABOUT_THE_VIDEO
        ):
            return await self._http.probe(url)
        seen = PlatformSeen("youtube", found.fields or {}, signal)
        return ProbeResult(
            url=url,
            final_url=found.webpage_url or url,
            # yt-dlp read the video (or the platform's verdict on it): an answer.
            status=200,
            failure=None,
            failure_message=found.error,
            platform=seen,
        )

    async def not_found(self, url: str) -> NotFoundProfile | None:
        return await self._http.not_found(url)


class FacebookProbe:
    """The HTTP probe with the operator's session, plus the post's text."""

    def __init__(
        self,
        settings: Settings,
        fetcher: Fetcher,
        http: HttpProbe,
        *,
        session: OperatorSession | None = None,
        text_limit: int = 4 * 1024 * 1024,
    ) -> None:
        self._network = settings.network
        self._fetcher = fetcher
        self._http = http
        self._session = session
        self._budget = settings.check.probe_budget
        self._text_limit = text_limit

    async def _chain(self, url: str, deadline: float) -> list[Exchange]:
        if self._session is None:
            return await self._fetcher.fetch_chain(url, deadline=deadline)
        # Redirects followed here so that each hop gets only its own host's cookies.
        chain: list[Exchange] = []
        visited: set[str] = set()
        current = url
        while len(chain) <= self._network.max_redirects:
            headers = {"User-Agent": self._network.user_agent, "Accept": BROWSER_ACCEPT}
            cookies = self._session.cookie_header(current)
            if cookies is not None:
                headers["Cookie"] = cookies
            exchange = await self._fetcher.fetch(current, headers=headers, deadline=deadline)
            chain.append(exchange)
            visited.add(current)
            location = exchange.location
            if not exchange.ok or location is None:
                return chain
            try:
                following = str(httpx.URL(current).join(location.strip()).copy_with(fragment=None))
            except (httpx.InvalidURL, ValueError):
                return chain
            if not following.startswith(("http://", "https://")) or following in visited:
                return chain
            current = following
        return chain

    async def probe(self, url: str) -> ProbeResult:
        chain = await self._chain(url, time.monotonic() + self._budget)
        try:
            result = result_from_chain(url, chain, self._text_limit)
        finally:
            for exchange in chain:
                exchange.close()
        if result.html is None or result.status is None or not 200 <= result.status < 300:
            return result
        text = extract_post(result.html).text
        if text is not None and self._session is not None:
            # As the capture stores it: session values never reach a comparison or a diff.
            text = self._session.secrets.redact_text(text)
        seen = PlatformSeen("facebook", {"text": text} if text else {})
        return replace(result, platform=seen)

    async def not_found(self, url: str) -> NotFoundProfile | None:
        return await self._http.not_found(url)


def platform_probes(settings: Settings, fetcher: Fetcher) -> Mapping[str, Probe]:
    """The probe for each platform that has one of its own. The operator's session file
    is read now (a bad one stops the run with a clear message, as in a capture) and its
    values are scrubbed from every log record from then on."""
    session = None
    if settings.platforms.facebook_session is not None:
        session = load_session(settings.platforms.facebook_session)
        redact_logs(session.secrets)
    http = HttpProbe(fetcher, budget=settings.check.probe_budget)
    markers = load_markers(settings.platforms.markers_file)
    return {
        "youtube": YtDlpProbe(settings, fetcher, http, markers),
        "facebook": FacebookProbe(settings, fetcher, http, session=session),
    }


def default_platform_probes(settings: Settings) -> Callable[[Fetcher], Mapping[str, Probe]] | None:
    """What CheckRunner uses unless told otherwise: the platform probes when
    ``check.platform_probes`` is on, else none (the HTTP probe for every source)."""
    if not settings.check.platform_probes:
        return None
    return lambda fetcher: platform_probes(settings, fetcher)
