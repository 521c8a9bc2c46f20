"""The download of a whole report's evidence (lawyer): the export ``archiver export
--report ID`` writes (archiver.integrity.report_export), as one zip.

Served like a snapshot's package (archiver.web.downloads): the route is a plain ``def``,
so the server runs it in a worker thread and the event loop keeps answering other
requests however long the export takes. The zip is written to
``<storage>/exports/web/``, streamed from disk (in 64 KiB chunks, never whole in
memory) and deleted once sent; with ``storage.warc_url`` the export keeps a copy in the
bucket first, under retention (docs/storage.md). One report export
is built at a time (each may hold a thread and a disk's worth of packages for minutes);
a second request meanwhile is told to come back. The download is a custody event like
every other ("download", subject the report, with the zip's sha256), on top of the
export's own entries.
"""

from __future__ import annotations

import threading
import uuid

from fastapi import HTTPException, status
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from archiver.errors import ArchiverError
from archiver.integrity._package import file_sha256
from archiver.models import Report
from archiver.store.db import is_row_id
from archiver.web._context import WebContext
from archiver.web.downloads import record_custody_download
from archiver.web.tokens import Principal

_ONE_AT_A_TIME = threading.Lock()


def report_export_response(ctx: WebContext, principal: Principal, report_id: int) -> Response:
    from archiver.integrity.report_export import export_report

    if not is_row_id(report_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such report")
    with ctx.archive.db.session() as session:
        if session.get(Report, report_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such report")
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "another report export is being built; try again in a few minutes",
            headers={"Retry-After": "60"},
        )
    try:
        out_dir = ctx.settings.storage.root / "exports" / "web"
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / f"report-{report_id}-{uuid.uuid4().hex[:8]}.zip"
        try:
            result = export_report(ctx.archive, report_id, out, principal.actor)
        except ArchiverError as exc:
            # e.g. the bucket refused the copy (storage.warc_url): nothing is sent, and
            # this request's zip does not stay behind.
            out.unlink(missing_ok=True)
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    finally:
        _ONE_AT_A_TIME.release()
    digest = file_sha256(out)
    try:
        _record(ctx, principal, report_id, digest, result.sums_sha256, result.packages)
    except BaseException:
        out.unlink(missing_ok=True)  # nothing is sent that the custody log does not hold
        raise
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    if digest:
        headers["X-Archiver-SHA256"] = digest
    return FileResponse(
        out,
        media_type="application/zip",
        filename=f"report-{report_id}-evidence.zip",
        headers=headers,
        background=BackgroundTask(out.unlink, missing_ok=True),
    )


def _record(
    ctx: WebContext,
    principal: Principal,
    report_id: int,
    digest: str | None,
    sums_sha256: str,
    packages: int,
) -> None:
    details = {
        "artefact": "report_export",
        "sha256": digest,
        "sums_sha256": sums_sha256,
        "packages": packages,
    }
    record_custody_download(ctx, principal, "report", str(report_id), details)
