"""The platform step of a capture (YouTube, Facebook): after the page is captured.

1. The platform's verdict on the content, from the main document as served
   (:func:`archiver.platforms.recognize_page`): removed, private, age-gated, login wall...
2. What can be extracted for later change detection: a video's title, description and
   duration; a Facebook post's text and its pictures.
3. Full-size pictures of a Facebook post, fetched by the archiver's own client (they
   become request/response records of the snapshot like the page's own requests).
4. The video through yt-dlp (:mod:`archiver.capture.media`), in a worker thread, its
   requests sent by the capture's fetcher (:mod:`archiver.capture._ytdlp_route`): they
   become request/response records beside the video's resource record, and the media
   record says which servers answered and whether their certificates verified.
5. With an operator session: every place its values could have reached the snapshot
   (request and response heads and bodies, the rendered DOM) is scrubbed, and each
   redaction is listed in the provenance.

Failures of these steps are recorded in the provenance and the platform record; they
never cost the snapshot of the page itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.capture._browser_types import PageCapture
from archiver.capture.decode import decode_body
from archiver.capture.exchange import Body, Exchange
from archiver.capture.http import Fetcher
from archiver.capture.media import (
    MediaResult,
    download_media,
    media_exchanges,
    media_response_limit,
    ytdlp_version,
)
from archiver.capture.policy import platform_steps
from archiver.capture.session import (
    REDACTED,
    OperatorSession,
    SessionSecrets,
    load_session,
    redact_logs,
)
from archiver.capture.snapshot import CaptureInput, ExtraArtefact
from archiver.check.signals import Signal
from archiver.config import Settings
from archiver.platforms import PlatformSignal, extract_metadata, extract_post, recognize_page
from archiver.platforms.markers import Markers, load_markers

log = logging.getLogger(__name__)

# Enough for any watch page or post; the rest of a huge page says nothing more.
_HTML_LIMIT = 16 * 1024 * 1024

FetchImage = Callable[[str], Awaitable[Exchange]]


@dataclass
class PlatformCapture:
    """What the step adds to a snapshot."""

    signal: PlatformSignal | None
    record: dict[str, Any]
    artefacts: list[ExtraArtefact] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    page: PageCapture | None = None  # the page with secrets scrubbed, when it had any


def main_html(chain: Sequence[Exchange], page: PageCapture | None) -> tuple[str, str, int | None]:
    """The main document as served (decoded), where it ended and its status."""
    final = chain[-1] if chain else (page.main_exchange if page is not None else None)
    if final is None or final.body is None or final.status is None:
        dom = page.dom_html if page is not None else None
        url = page.final_url if page is not None else ""
        return (dom or b"").decode("utf-8", "replace"), url, None
    decoded = decode_body(final.body.chunks(), final.header("content-encoding"), _HTML_LIMIT)
    charset = "utf-8"
    content_type = final.header("content-type") or ""
    if "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip().strip('"') or "utf-8"
    try:
        text = decoded.data.decode(charset, "replace")
    except LookupError:
        text = decoded.data.decode("utf-8", "replace")
    return text, final.url, final.status


def _contains(body: Body, secrets: SessionSecrets) -> bool:
    longest = max((len(v.encode()) for v in secrets.values), default=0)
    tail = b""
    for chunk in body.chunks():
        window = tail + chunk
        if any(v.encode() in window for v in secrets.values):
            return True
        tail = window[-longest:] if longest else b""
    return False


def redact_set_cookie(head: bytes, names: Sequence[str]) -> tuple[bytes, int]:
    """A response head with the values of Set-Cookie headers for the session's cookie
    names replaced: the site renewing the operator's token (a value the session file
    does not hold, as secret as the one it replaces)."""
    if not names:
        return head, 0
    alternatives = b"|".join(re.escape(n.encode("latin-1", "replace")) for n in names)
    pattern = re.compile(rb"(?im)^(set-cookie:[ \t]*(?:" + alternatives + rb")[ \t]*=)[^;\r\n]*")
    return pattern.subn(rb"\1" + REDACTED.encode(), head)


def scrub_exchanges(
    exchanges: Sequence[Exchange], secrets: SessionSecrets, cookie_names: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Replace session values wherever an exchange would write them (and the values of
    the session's cookies the site sets anew); list where."""
    notes: list[dict[str, Any]] = []
    if not secrets:
        return notes
    for exchange in exchanges:
        if exchange.redacted_headers:
            notes.append(
                {
                    "url": exchange.url,
                    "where": "request headers",
                    "headers": list(exchange.redacted_headers),
                }
            )
        head, count = secrets.redact_bytes(exchange.request_head)
        if count:
            exchange.request_head = head
            notes.append({"url": exchange.url, "where": "request head", "count": count})
        body, count = secrets.redact_bytes(exchange.request_body)
        if count:
            exchange.request_body = body
            notes.append({"url": exchange.url, "where": "request body", "count": count})
        if exchange.response_head is not None:
            head, count = secrets.redact_bytes(exchange.response_head)
            head, renewed = redact_set_cookie(head, cookie_names)
            if count or renewed:
                exchange.response_head = head
                notes.append(
                    {"url": exchange.url, "where": "response head", "count": count + renewed}
                )
        if exchange.body is not None and _contains(exchange.body, secrets):
            # Rare (a page echoing a cookie); such a body is small enough to hold.
            data, count = secrets.redact_bytes(exchange.body.read())
            exchange.body.close()
            exchange.body = Body.from_bytes(data)
            notes.append({"url": exchange.url, "where": "response body", "count": count})
    return notes


def scrub_page(
    page: PageCapture, secrets: SessionSecrets
) -> tuple[PageCapture, list[dict[str, Any]]]:
    if not secrets or page.dom_html is None:
        return page, []
    dom, count = secrets.redact_bytes(page.dom_html)
    if not count:
        return page, []
    note = {"url": page.final_url, "where": "rendered DOM", "count": count}
    return dataclasses.replace(page, dom_html=dom), [note]


class PlatformStep:
    def __init__(self, settings: Settings, *, session: OperatorSession | None = None) -> None:
        self._settings = settings
        self._session = session
        self._markers: Markers = load_markers(settings.platforms.markers_file)
        if session is not None:
            redact_logs(session.secrets)

    def session_for(self, platform: str) -> OperatorSession | None:
        return self._session if platform == "facebook" else None

    def wants(self, platform: str, kind: str) -> bool:
        return bool(platform_steps(platform, kind, self._settings.platforms))

    async def run(
        self,
        *,
        url: str,
        platform: str,
        kind: str,
        chain: Sequence[Exchange],
        page: PageCapture | None,
        fetch_image: FetchImage,
        workdir: Path,
        fetcher: Fetcher | None = None,
    ) -> PlatformCapture:
        steps = set(platform_steps(platform, kind, self._settings.platforms))
        session = self.session_for(platform)
        html, final_url, status = main_html(chain, page)
        found = recognize_page(url, final_url or url, status, html, markers=self._markers)
        signal = found if isinstance(found, PlatformSignal) else None
        extracted: dict[str, Any] = {}
        image_urls: tuple[str, ...] = ()
        has_video = False
        if platform == "youtube":
            meta = extract_metadata(html)
            if meta is not None:
                extracted = dataclasses.asdict(meta)
        elif platform == "facebook":
            post = extract_post(html)
            extracted = dataclasses.asdict(post)
            image_urls = post.image_urls
            has_video = bool(post.video_urls)
        capture = PlatformCapture(signal=signal, record={})
        events: list[dict[str, Any]] = []
        if "images" in steps and image_urls:
            already = {e.url for e in chain} | {e.url for e in (page.exchanges if page else [])}
            for image in image_urls[: self._settings.platforms.facebook_max_images]:
                if image in already:
                    continue
                exchange = await fetch_image(image)
                capture.exchanges.append(exchange)
                events.append(
                    {
                        "image": image,
                        "status": exchange.status,
                        "failure": str(exchange.failure.kind) if exchange.failure else None,
                    }
                )
        media = MediaResult(ytdlp_version=ytdlp_version())
        worth_trying = signal is None or signal.implied_state in ("live", None)
        if ("video" in steps or ("video_if_present" in steps and has_video)) and worth_trying:
            media = await self._video(url, workdir, session, fetcher)
            capture.exchanges.extend(media.exchanges)
            capture.artefacts = [
                ExtraArtefact(f.kind, f.target, f.content_type, f.path) for f in media.files
            ]
        elif "video" in steps:
            media.status, media.error = (
                "skipped",
                f"not tried: the page says {signal.detail if signal else 'nothing'}",
            )
        redactions: list[dict[str, Any]] = []
        if session is not None:
            exchanges = [*chain, *(page.exchanges if page else []), *capture.exchanges]
            redactions = scrub_exchanges(exchanges, session.secrets, session.cookie_names)
            if page is not None:
                capture.page, more = scrub_page(page, session.secrets)
                redactions += more
            extracted = session.secrets.redact_json(extracted)
        capture.record = {
            "platform": platform,
            "detail": signal.detail if signal else None,
            "implied_state": signal.implied_state if signal else None,
            "reason": signal.reason if signal else None,
            "extracted": extracted,
            "images": events,
            "media": {
                "status": media.status,
                "error": media.error,
                "error_implies": media.signal.implied_state if media.signal else None,
                "error_detail": media.signal.detail if media.signal else None,
                "summary": media.summary,
                "files": [
                    {"kind": f.kind, "name": f.path.name, "note": f.note} for f in media.files
                ],
                **media_exchanges(media.exchanges),
                "deadline_hit": media.deadline_hit,
            },
            "ytdlp_version": media.ytdlp_version,
            "ytdlp_ejs_version": ytdlp_version("yt-dlp-ejs"),
            "settings": {
                "video": self._settings.platforms.video,
                "video_max_height": self._settings.platforms.video_max_height,
                "video_max_bytes": self._settings.platforms.video_max_bytes,
                "video_deadline": self._settings.platforms.video_deadline,
                "subtitle_languages": list(self._settings.platforms.subtitle_languages),
                "facebook_max_images": self._settings.platforms.facebook_max_images,
            },
            "session": None
            if session is None
            else {"used": True, "cookies": list(session.cookie_names), "values": "[redacted]"},
            "redactions": redactions,
        }
        return capture

    async def augment(
        self,
        url: str,
        platform: str,
        kind: str,
        capture: CaptureInput,
        *,
        fetch_image: FetchImage,
        spool: Path,
        exchanges: list[Exchange],
        workdirs: list[Path],
        fetcher: Fetcher | None = None,
    ) -> CaptureInput:
        """``capture`` with the step's findings added. The work folder is appended to
        ``workdirs`` (the caller removes it once the WARC is sealed) and new requests to
        ``exchanges`` (the caller closes them)."""
        workdir = Path(tempfile.mkdtemp(prefix="media-", dir=spool))
        workdirs.append(workdir)
        try:
            found = await self.run(
                url=url,
                platform=platform,
                kind=kind,
                chain=capture.http_chain,
                page=capture.page if isinstance(capture.page, PageCapture) else None,
                fetch_image=fetch_image,
                workdir=workdir,
                fetcher=fetcher,
            )
        except Exception as exc:  # a platform step's bug must not cost the page's snapshot
            log.exception("platform step for %s failed", url)
            failed = {"platform": platform, "error": f"{type(exc).__name__}: {exc}"}
            return dataclasses.replace(capture, platform=failed)
        exchanges.extend(found.exchanges)
        return dataclasses.replace(
            capture,
            extra_exchanges=tuple(found.exchanges),
            page=found.page or capture.page,
            extra_artefacts=tuple(found.artefacts),
            platform=found.record,
        )

    async def _video(
        self,
        url: str,
        workdir: Path,
        session: OperatorSession | None,
        fetcher: Fetcher | None,
    ) -> MediaResult:
        """yt-dlp in a worker thread, its requests sent by ``fetcher`` on this loop (a
        fetcher of its own without one: a platform step run outside a capture)."""
        from archiver.capture._ytdlp_route import VideoRoute

        settings = self._settings
        started = time.monotonic()
        route = (
            None
            if fetcher is None
            else VideoRoute(
                fetcher,
                asyncio.get_running_loop(),
                seconds=settings.platforms.video_deadline,
                max_bytes=media_response_limit(settings.platforms),
            )
        )

        def download(cookie_file: Path | None) -> MediaResult:
            return download_media(
                url,
                workdir,
                settings.platforms,
                settings.network,
                self._markers,
                cookie_file=cookie_file,
                secrets=session.secrets if session else SessionSecrets(frozenset()),
                route=route,
                capture=settings.capture,
            )

        try:
            if session is None:
                result = await asyncio.to_thread(download, None)
            else:
                with session.cookie_file() as cookies:
                    result = await asyncio.to_thread(download, cookies)
        except asyncio.CancelledError:
            if route is not None:
                route.close()  # yt-dlp's thread stops at its next request
            raise
        result.summary["seconds"] = round(time.monotonic() - started, 3)
        return result


def step_for(settings: Settings, wanted: Sequence[tuple[str, str]]) -> PlatformStep | None:
    """A platform step for this run when any (platform, kind) wants one; the operator's
    session file is read now, so a bad one stops the run with a clear message."""
    if not any(platform_steps(p, k, settings.platforms) for p, k in wanted):
        return None
    path = settings.platforms.facebook_session
    session = load_session(path) if path is not None else None
    return PlatformStep(settings, session=session)


def combined_signal(response: Signal, platform: Mapping[str, Any] | None) -> Signal:
    """The platform's verdict wins over the bare HTTP status when it has one (a 200
    "Video unavailable" page is removed, not live); a page that says nothing of its
    content (an unsupported-browser interstitial) implies nothing either."""
    if platform is None or platform.get("detail") is None:
        return response
    reason = str(platform.get("reason") or "")
    state = platform.get("implied_state")
    if state is None and response.implied_state == "live":
        return Signal(None, reason)
    if state is None:
        return response
    return Signal(str(state), reason)


def platform_row(
    source_id: int, snapshot_id: str, record: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """The platform_records row for one snapshot."""
    media = record.get("media") or {}
    session = record.get("session")
    return {
        "snapshot_id": snapshot_id,
        "source_id": source_id,
        "recorded_at": now,
        "platform": str(record.get("platform") or ""),
        "detail": record.get("detail"),
        "implied_state": record.get("implied_state"),
        "reason": record.get("reason") or record.get("error"),
        "media_status": str(media.get("status") or ("failed" if record.get("error") else "none")),
        "media_error": media.get("error") or record.get("error"),
        "media_sha256": record.get("media_sha256"),
        "media_size": record.get("media_size"),
        "ytdlp_version": record.get("ytdlp_version"),
        "extracted": {**(record.get("extracted") or {}), "media": media.get("summary") or {}},
        "session_used": bool(session),
    }
