"""The JSON API under /api/v1: the evidence status, downloads, and adding reports.

The status document has the shape of ``archiver status --format json`` (docs/status.md);
the other endpoints are slices of it. Roles: viewer reads, lawyer also downloads,
admin also adds reports and feeds and reads the settings.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response

from archiver.config_display import display_settings
from archiver.errors import ArchiverError
from archiver.store.db import is_row_id
from archiver.store.status import STATES
from archiver.web import _queries as q
from archiver.web._auth import api_role, context
from archiver.web._responses import csv_response, download_response
from archiver.web._select import Filters, matching_source_ids, select_report
from archiver.web.downloads import package_download, screenshot_download, warc_download
from archiver.web.intake import add_feed, add_report, feed_list
from archiver.web.report_download import report_export_response
from archiver.web.tokens import (
    Principal,
    Role,
    create_token,
    list_tokens,
    parse_role,
    revoke_token,
    token_json,
)

router = APIRouter(prefix="/api/v1", tags=["evidence status"])
MAX_SELECTED = 5000

Viewer = Annotated[Principal, api_role(Role.VIEWER)]
Lawyer = Annotated[Principal, api_role(Role.LAWYER)]
Admin = Annotated[Principal, api_role(Role.ADMIN, bearer_only=True)]
StateFilter = Annotated[str | None, Query(description=f"one of {', '.join(STATES)}")]
PlatformFilter = Annotated[str | None, Query(description="e.g. news, facebook, youtube")]


def api_filters(
    state: StateFilter = None,
    platform: PlatformFilter = None,
    domain: Annotated[
        str | None,
        Query(description="a host name, www. dropped; its subdomains match too"),
    ] = None,
    never_preserved: Annotated[
        bool, Query(description="only sources tried and never preserved")
    ] = False,
    suspected: Annotated[
        bool, Query(description="only sources an observation accuses, waiting to be confirmed")
    ] = False,
    incomplete: Annotated[
        bool, Query(description="only sources whose latest preserved snapshot lacks a part")
    ] = False,
    search: Annotated[
        str | None,
        Query(
            alias="q",
            description="words (any case), all of them in the URL, the claim or a page title",
        ),
    ] = None,
) -> Filters:
    return Filters.of(
        state=state,
        platform=platform,
        domain=domain,
        never_preserved=never_preserved,
        suspected=suspected,
        incomplete=incomplete,
        q=search,
    )


ApiFilters = Annotated[Filters, Depends(api_filters)]


def _status(
    request: Request,
    *,
    report_ids: list[int] | None = None,
    source_ids: list[int] | None = None,
) -> dict[str, Any]:
    ctx = context(request)
    return q.status_document(
        ctx.archive.db, ctx.archive.clock, report_ids=report_ids, source_ids=source_ids
    )


def _json(document: Any) -> Response:
    # Plain JSON of plain data: FastAPI's generic encoder costs more than building it.
    return Response(json.dumps(document, ensure_ascii=False), media_type="application/json")


@router.get(
    "/status",
    summary="The whole evidence-status document (docs/status.md)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def get_status(request: Request, _: Viewer) -> Response:
    return _json(_status(request))


@router.get(
    "/status.csv",
    summary="One row per citation, for spreadsheets",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_status_csv(request: Request, _: Viewer) -> Response:
    return csv_response(_status(request))


@router.get("/reports", summary="Reports with their summary, without citations")
def list_reports(request: Request, _: Viewer) -> list[dict[str, Any]]:
    ctx = context(request)
    return sorted(q.overview(ctx.archive.db, ctx.archive.clock).reports, key=lambda r: r["id"])


@router.get(
    "/reports/{report_id}",
    summary="One report, footnote by footnote, with sources",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def get_report(request: Request, report_id: q.RowId, _: Viewer, filters: ApiFilters) -> Response:
    if not is_row_id(report_id):
        raise HTTPException(404, "no such report")
    ctx = context(request)
    selection = select_report(ctx.archive.db, report_id, filters)
    if selection is None:
        raise HTTPException(404, "no such report")
    ids = sorted({f["source_id"] for f in selection.footnotes})
    if len(ids) > MAX_SELECTED:
        document = _status(request, report_ids=[report_id])
    else:
        document = _status(request, source_ids=ids)
    entries = {s["id"]: s for s in document["sources"]}
    return _json(
        {
            **selection.report,
            "citations": [{**f, "source": entries[f["source_id"]]} for f in selection.footnotes],
            "total_citations": selection.total,
            "by_state": selection.by_state,
            "by_platform": selection.by_platform,
            # Added with the dashboard: footnotes per domain and per flag, whole report.
            "by_domain": selection.by_domain,
            "flags": selection.flags,
        }
    )


@router.get(
    "/sources",
    summary="Sources with their state and snapshots, filtered",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def list_sources(request: Request, _: Viewer, filters: ApiFilters) -> Response:
    if not filters.active:
        return _json(_status(request)["sources"])
    ids = matching_source_ids(context(request).archive.db, filters)
    if len(ids) > MAX_SELECTED:
        # A long list of ids is no faster than reading everything (and SQLite caps it).
        wanted = set(ids)
        return _json([s for s in _status(request)["sources"] if s["id"] in wanted])
    return _json(_status(request, source_ids=ids)["sources"])


@router.get("/sources/{source_id}", summary="One source: status, timeline, stored diffs")
def get_source(request: Request, source_id: q.RowId, _: Viewer) -> dict[str, Any]:
    if not is_row_id(source_id):
        raise HTTPException(404, "no such source")
    ctx = context(request)
    view = q.source_view(ctx.archive.db, _status(request, source_ids=[source_id]), source_id)
    if view is None:
        raise HTTPException(404, "no such source")
    return {
        **view.source,
        "timeline": [{**t, "at": q.iso(t["at"])} for t in view.timeline],
        "diffs": view.diffs,
    }


@router.get(
    "/snapshots/{snapshot_id}/warc",
    summary="Download a snapshot's WARC file (lawyer)",
    response_class=Response,
    responses={200: {"content": {"application/warc": {}}}},
)
def get_warc(request: Request, snapshot_id: str, principal: Lawyer) -> Response:
    return download_response(warc_download(context(request), principal, snapshot_id))


@router.get(
    "/snapshots/{snapshot_id}/screenshot",
    summary="Download a snapshot's screenshot (lawyer)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def get_screenshot(
    request: Request, snapshot_id: str, principal: Lawyer, inline: bool = False
) -> Response:
    download = screenshot_download(context(request), principal, snapshot_id, inline=inline)
    return download_response(download, inline=inline)


@router.get(
    "/snapshots/{snapshot_id}/package",
    summary="Download a snapshot's evidence package (lawyer)",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}, 503: {"description": "not built"}},
)
def get_package(request: Request, snapshot_id: str, principal: Lawyer) -> Response:
    return download_response(package_download(context(request), principal, snapshot_id))


@router.get(
    "/reports/{report_id}/export",
    summary="Download a whole report's evidence: every source's package and a signed, "
    "timestamped index (lawyer)",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}},
        503: {"description": "another report export is being built"},
    },
)
def get_report_export(request: Request, report_id: q.RowId, principal: Lawyer) -> Response:
    # A plain def: run in a worker thread, so a long export does not block the server.
    return report_export_response(context(request), principal, report_id)


@router.post("/reports", summary="Add a report: upload a file, or give its URL (admin)")
def post_report(
    request: Request,
    principal: Admin,
    url: Annotated[str | None, Form()] = None,
    file: Annotated[UploadFile | None, File()] = None,
) -> dict[str, Any]:
    try:
        return add_report(context(request), principal, url=url, upload=file)
    except ArchiverError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/feeds", summary="Report feeds watched for new reports")
def get_feeds(request: Request, _: Viewer) -> list[dict[str, Any]]:
    return feed_list(context(request))


@router.post("/feeds", summary="Watch a feed (RSS, Atom or a listing page) for reports (admin)")
def post_feed(request: Request, principal: Admin, url: Annotated[str, Form()]) -> dict[str, Any]:
    try:
        return add_feed(context(request), principal, url)
    except ArchiverError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/tokens", summary="Access tokens (never the tokens themselves) (admin)")
def get_tokens(
    request: Request, _: Annotated[Principal, api_role(Role.ADMIN)]
) -> list[dict[str, Any]]:
    return [token_json(t) for t in list_tokens(context(request).archive.db)]


@router.post("/tokens", summary="Create a token; the answer holds it, once (admin)")
def post_token(
    request: Request,
    principal: Admin,
    name: Annotated[str, Form()],
    role: Annotated[str, Form(description="viewer, lawyer or admin")],
) -> dict[str, Any]:
    archive = context(request).archive
    try:
        info, secret = create_token(
            archive.db, name=name, role=parse_role(role), clock=archive.clock
        )
    except ArchiverError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {**token_json(info), "token": secret}


@router.delete("/tokens/{ref}", summary="Revoke a token by id or name (admin)")
def delete_token(request: Request, ref: str, principal: Admin) -> list[dict[str, Any]]:
    archive = context(request).archive
    try:
        revoked = revoke_token(archive.db, ref, clock=archive.clock)
    except ArchiverError as exc:
        raise HTTPException(404, str(exc)) from exc
    return [token_json(t) for t in revoked]


@router.get("/settings", summary="The settings in force, secrets masked (admin)")
def get_settings(request: Request, _: Annotated[Principal, api_role(Role.ADMIN)]) -> dict[str, Any]:
    # Passwords and secrets as "(set)", URLs without user:password or query values.
    return display_settings(context(request).settings)
