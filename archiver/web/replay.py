"""A snapshot replayed in the browser: ReplayWeb.page on the source page.

ReplayWeb.page's own files (``ui.js`` and its service worker ``sw.js``, from the pinned
npm package at ``web.replay_viewer``) are served by the archiver under ``/replay/``; the
service worker reads the snapshot as a WACZ from ``/snapshots/{id}.wacz`` in byte ranges
(outside the worker's scope, so the worker cannot fetch it for a navigation) and answers
the replay frame from it. Nothing comes from a CDN.

The viewer role may see a replay; the files stay lawyer-only. The WACZ route therefore
answers a viewer only when the request comes from the replay (a same-origin fetch, not a
navigation: ``Sec-Fetch-Dest: empty``, ``Sec-Fetch-Site: same-origin``) and never as an
attachment. That keeps a viewer from downloading it by following or typing the link; it
is no wall against a viewer who forges those headers, who sees the archived page anyway.
A replay is written to the custody log like a screenshot shown on the page: action
``download``, artefact ``replay``, ``inline`` true, once per person and snapshot for
each ``REPLAY_VIEW_WINDOW`` (the service worker reads many ranges for one view).

The WACZ is built from the snapshot's WARC on first use (its sha256 checked against the
one recorded at capture) and kept under ``<storage.root>/replay/``: derived data that may
be deleted at any time.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse, Response

from archiver.errors import ArchiverError, StoreError
from archiver.integrity._wacz import WaczPage, write_wacz
from archiver.models import Snapshot, Source
from archiver.storage import ObjectMissing, open_store
from archiver.web._auth import context, page_role
from archiver.web._context import WebContext
from archiver.web.downloads import inside_storage, load_snapshot, record_download
from archiver.web.tokens import Principal, Role

router = APIRouter(include_in_schema=False)

Viewer = Annotated[Principal, page_role(Role.VIEWER)]

# The only files of the package the replay needs.
ASSETS = ("ui.js", "sw.js")
REPLAY_BASE = "/replay/"
# One custody entry per person and snapshot for a view within this time.
REPLAY_VIEW_WINDOW = timedelta(minutes=30)

# The source page with a replay: its own script (ui.js), the replay's service worker and
# frame, the frame's reads; all from this origin, nothing else.
REPLAY_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; frame-src 'self'; "
    "connect-src 'self'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The service worker's own script: its policy governs the worker's fetches, which go to
# this origin only (the WACZ), and the worker it starts itself (script-src).
WORKER_POLICY = "default-src 'none'; connect-src 'self'; script-src 'self'"


def viewer_files(ctx: WebContext) -> Path | None:
    """The folder holding ReplayWeb.page's files, or None when they are not installed."""
    folder = ctx.settings.web.replay_viewer
    if all((folder / name).is_file() for name in ASSETS):
        return folder
    return None


@dataclass
class ViewLog:
    """When each (person, snapshot) replay was last written to the custody log."""

    seen: dict[tuple[str, str], datetime] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def due(self, actor: str, snapshot_id: str, now: datetime) -> bool:
        with self.lock:
            last = self.seen.get((actor, snapshot_id))
            if last is not None and now - last < REPLAY_VIEW_WINDOW:
                return False
            self.seen[(actor, snapshot_id)] = now
            return True


def _view_log(request: Request) -> ViewLog:
    # Made with the app (archiver.web.app): made here on first use, two of the replay's
    # first range requests (handled in threads at once) could each make their own.
    log: ViewLog = request.app.state.replay_views
    return log


# The replay frame's page, as the service worker itself serves it (its "serveIndex"):
# ReplayWeb.page's app. The server answers it too, for the loads the worker does not
# answer itself: the first, before the worker controls the frame (ReplayWeb.page then
# reloads the frame), and any while the worker starts up and passes requests on (seen
# on a busy machine: a page without the app there left the replay stuck). Framed by the
# source page, so it may be framed by this origin (every other response: by none).
FRAME_INDEX = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Replay</title>'
    '<script src="/replay/ui.js"></script></head><body><replay-app-main></replay-app-main>'
    "</body></html>"
)
# The app's icons are data: URLs it fetches (no network).
FRAME_POLICY = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; frame-src 'self'; "
    "connect-src 'self' data:; style-src 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'self'; base-uri 'none'"
)


@router.get("/replay/")
def replay_frame(_principal: Viewer) -> Response:
    return HTMLResponse(
        FRAME_INDEX,
        headers={
            "Content-Security-Policy": FRAME_POLICY,
            "X-Frame-Options": "SAMEORIGIN",
            "Cache-Control": "no-store",
        },
    )


@router.get("/replay/{name}")
def asset(request: Request, name: str, _principal: Viewer) -> Response:
    if name not in ASSETS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    folder = viewer_files(context(request))
    if folder is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "ReplayWeb.page's files are not installed (web.replay_viewer; ./dev run installs them)",
        )
    headers = {"Cache-Control": "private, max-age=3600"}
    if name == "sw.js":
        headers["Content-Security-Policy"] = WORKER_POLICY
    return FileResponse(folder / name, media_type="text/javascript", headers=headers)


def _from_the_replay(request: Request) -> bool:
    return (
        request.headers.get("sec-fetch-dest") == "empty"
        and request.headers.get("sec-fetch-site") == "same-origin"
    )


@router.api_route("/snapshots/{snapshot_id}.wacz", methods=["GET", "HEAD"])
def snapshot_wacz(request: Request, snapshot_id: str, principal: Viewer) -> Response:
    ctx = context(request)
    if not principal.role.allows(Role.LAWYER) and not _from_the_replay(request):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "this file is read by the replay on the source page; downloading evidence "
            "needs the lawyer role",
        )
    snapshot = load_snapshot(ctx, snapshot_id)
    path = replay_wacz(ctx, snapshot)
    if _view_log(request).due(principal.actor, snapshot.id, ctx.archive.clock()):
        record_download(ctx, principal, snapshot, "replay", snapshot.warc_sha256, shown_inline=True)
    # FileResponse answers Range requests (206, one or several ranges) and HEAD.
    return FileResponse(
        path,
        media_type="application/wacz",
        headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"},
    )


_building: dict[str, threading.Lock] = {}
_building_lock = threading.Lock()


def replay_wacz(ctx: WebContext, snapshot: Snapshot) -> Path:
    """The snapshot as WACZ, built from its WARC on first use (once: the replay's first
    requests arrive together)."""
    out = ctx.settings.storage.root / "replay" / f"{snapshot.id}.wacz"
    if out.is_file():
        return out
    with _building_lock:
        lock = _building.setdefault(snapshot.id, threading.Lock())
    try:
        with lock:
            if out.is_file():
                return out
            return _build(ctx, snapshot, out)
    finally:
        with _building_lock:
            _building.pop(snapshot.id, None)


def _build(ctx: WebContext, snapshot: Snapshot, out: Path) -> Path:
    store = open_store(ctx.settings)
    if not store.remote:
        return _build_from(ctx, snapshot, out, inside_storage(ctx, snapshot.warc_path))
    # In a bucket (storage.warc_url): fetched to the storage's tmp/ for the build.
    try:
        with store.fetched(snapshot.warc_path, ctx.settings.storage.root / "tmp") as warc:
            return _build_from(ctx, snapshot, out, warc)
    except ObjectMissing as exc:
        raise HTTPException(status.HTTP_410_GONE, "the stored file is missing") from exc


def _build_from(ctx: WebContext, snapshot: Snapshot, out: Path, warc: Path) -> Path:
    with ctx.archive.db.session() as session:
        source = session.get(Source, snapshot.source_id)
        source_url = source.url if source is not None else snapshot.final_url or ""
    chain: list[dict[str, Any]] = snapshot.redirect_chain or []
    page_url = chain[0]["url"] if chain else source_url
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{snapshot.id}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        write_wacz(
            temporary,
            warc,
            snapshot.warc_sha256,
            WaczPage(page_url, snapshot.started_at, snapshot.title, snapshot.id),
            created=snapshot.finished_at or snapshot.started_at,
            title=f"Snapshot {snapshot.id} of {source_url}",
        )
        os.replace(temporary, out)
    except ArchiverError as exc:
        # The stored WARC no longer matches the hash recorded at capture.
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    finally:
        temporary.unlink(missing_ok=True)
    return out


def replay_panel(
    ctx: WebContext, source: dict[str, Any], asked: str | None
) -> dict[str, Any] | None:
    """What the source page shows around the replay: the snapshot asked for (``?replay=``)
    if it is this source's and holds a response, else the latest preserved one."""
    replayable = {s["id"]: s for s in source["snapshots"] if s["http_status"] is not None}
    chosen = replayable.get(asked or "") or replayable.get(source.get("latest_snapshot") or "")
    if chosen is None:
        return None
    snapshot = load_snapshot(ctx, chosen["id"])
    # Already built, or its WARC where the store keeps it (a bucket too).
    built = (ctx.settings.storage.root / "replay" / f"{snapshot.id}.wacz").is_file()
    store_error = None
    try:
        warc_present = built or open_store(ctx.settings).stat(snapshot.warc_path) is not None
    except StoreError as exc:  # a bucket that does not answer: said as such, not "missing"
        warc_present, store_error = False, str(exc)
    chain: list[dict[str, Any]] = snapshot.redirect_chain or []
    label = "baseline" if chosen["id"] == source.get("baseline_snapshot") else None
    if chosen["id"] == source.get("latest_snapshot"):
        label = "latest" if label is None else "baseline and latest"
    return {
        "snap": chosen,
        "label": label,
        "page_url": chain[0]["url"] if chain else source["url"],
        "title": snapshot.title,
        "source": f"/snapshots/{chosen['id']}.wacz",
        "available": viewer_files(ctx) is not None and warc_present,
        "viewer_installed": viewer_files(ctx) is not None,
        "warc_present": warc_present,
        "store_error": store_error,
        "viewer_path": str(ctx.settings.web.replay_viewer.resolve()),
        "others": [s for s in replayable.values() if s["id"] != chosen["id"]],
    }
