"""The server-rendered pages: reports, footnotes, sources, login, adding reports.

Plain HTML forms and links: every view works without JavaScript and on a phone.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from archiver.check.health import check_health
from archiver.errors import ArchiverError
from archiver.store.db import is_row_id
from archiver.store.status import STATES
from archiver.web import _queries as q
from archiver.web._auth import (
    SESSION_TOKEN_KEY,
    check_csrf,
    check_token,
    context,
    csrf_token,
    page_principal,
    page_role,
    retry_after,
)
from archiver.web.intake import add_feed, add_report, feed_list
from archiver.web.tokens import (
    Principal,
    Role,
    create_token,
    list_tokens,
    parse_role,
    revoke_token,
)

router = APIRouter(include_in_schema=False)

Viewer = Annotated[Principal, page_role(Role.VIEWER)]
SOURCES_PER_PAGE = 200
# Real reports cite a few hundred sources; a generated 10,000-note one stays usable.
FOOTNOTES_PER_PAGE = 500
Admin = Annotated[Principal, page_role(Role.ADMIN)]


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    ctx = context(request)
    return ctx.templates.TemplateResponse(
        request,
        template,
        {"principal": principal, "csrf": csrf_token(request) if principal else "", **values},
        status_code=status_code,
        headers={"Cache-Control": "private, no-store"},
    )


def _filters(state: str | None, platform: str | None) -> q.Filters:
    return q.Filters(state or None, platform or None)


# Longer targets (no page here needs one) are not echoed: the front page instead.
MAX_NEXT = 2000


def _safe_next(value: str | None) -> str:
    """Where to go after logging in: only a path on this site, never //other.host or a
    scheme (an open redirect), at most MAX_NEXT printable ASCII characters (browsers
    drop tabs and line breaks from URLs: "/<tab>/host" would become "//host")."""
    if (
        value
        and len(value) <= MAX_NEXT
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and all("!" <= c <= "~" for c in value)
    ):
        return value
    return "/"


def login_page(
    request: Request, *, error: str | None = None, status_code: int = 401
) -> HTMLResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return render(
        request,
        "login.html",
        None,
        status_code=status_code,
        next=_safe_next(request.query_params.get("next") or target),
        error=error,
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return login_page(request, status_code=200)


@router.post("/login")
def login(
    request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    wait = retry_after(request)
    if wait:
        held = render(
            request,
            "login.html",
            None,
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            next=_safe_next(next),
            error=f"Too many wrong tokens from this address. Try again in {wait} seconds.",
        )
        held.headers["Retry-After"] = str(wait)
        return held
    principal = check_token(request, token.strip())
    if principal is None:
        response = render(
            request,
            "login.html",
            None,
            status_code=status.HTTP_401_UNAUTHORIZED,
            next=_safe_next(next),
            error="That token is not valid (mistyped, or revoked).",
        )
        return response
    request.session.clear()
    request.session[SESSION_TOKEN_KEY] = principal.token_id
    return RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
    page_principal(request)
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/", response_class=HTMLResponse)
def index(request: Request, principal: Viewer) -> HTMLResponse:
    ctx = context(request)
    view = q.overview(ctx.archive.db, ctx.archive.clock)
    return render(
        request,
        "index.html",
        principal,
        summary=view.summary,
        reports=view.reports,
        generated_at=view.generated_at,
        checks=check_health(ctx.archive.db, ctx.archive.clock),
    )


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report_page(
    request: Request,
    report_id: q.RowId,
    principal: Viewer,
    state: str | None = None,
    platform: str | None = None,
    page: int = 1,
) -> HTMLResponse:
    if not is_row_id(report_id):
        return _not_found(request, principal, "No such report.")
    ctx = context(request)
    document = q.status_document(ctx.archive.db, ctx.archive.clock, report_ids=[report_id])
    filters = _filters(state, platform)
    view = q.report_view(document, report_id, filters)
    if view is None:
        return _not_found(request, principal, "No such report.")
    matching = len(view.footnotes)
    pages = max(1, -(-matching // FOOTNOTES_PER_PAGE))
    page = min(max(page, 1), pages)
    view.footnotes = view.footnotes[(page - 1) * FOOTNOTES_PER_PAGE : page * FOOTNOTES_PER_PAGE]
    return render(
        request,
        "report.html",
        principal,
        view=view,
        matching=matching,
        states=STATES,
        current=filters,
        page=page,
        pages=pages,
    )


@router.get("/sources", response_class=HTMLResponse)
def sources_page(
    request: Request,
    principal: Viewer,
    state: str | None = None,
    platform: str | None = None,
    page: int = 1,
) -> HTMLResponse:
    ctx = context(request)
    filters = _filters(state, platform)
    matching = q.matching_source_ids(ctx.archive.db, filters)
    pages = max(1, -(-len(matching) // SOURCES_PER_PAGE))
    page = min(max(page, 1), pages)
    shown = matching[(page - 1) * SOURCES_PER_PAGE : page * SOURCES_PER_PAGE]
    document = q.status_document(ctx.archive.db, ctx.archive.clock, source_ids=shown)
    summary = q.overview(ctx.archive.db, ctx.archive.clock).summary
    return render(
        request,
        "sources.html",
        principal,
        sources=document["sources"],
        matching=len(matching),
        total=summary["sources"],
        states=STATES,
        platforms=sorted(summary["by_platform"]),
        current=filters,
        page=page,
        pages=pages,
    )


@router.get("/sources/{source_id}", response_class=HTMLResponse)
def source_page(request: Request, source_id: q.RowId, principal: Viewer) -> HTMLResponse:
    if not is_row_id(source_id):
        return _not_found(request, principal, "No such source.")
    ctx = context(request)
    document = q.status_document(ctx.archive.db, ctx.archive.clock, source_ids=[source_id])
    view = q.source_view(ctx.archive.db, document, source_id)
    if view is None:
        return _not_found(request, principal, "No such source.")
    for entry in view.timeline:
        entry["at_text"] = q.iso(entry["at"])
    screenshots = _screenshots(view.source)
    return render(request, "source.html", principal, view=view, screenshots=screenshots)


def _screenshots(source: dict[str, Any]) -> list[dict[str, Any]]:
    """The baseline's screenshot and the latest snapshot's, labelled, side by side (the
    baseline stays the baseline, whatever was captured after it)."""
    by_id = {snap["id"]: snap for snap in source["snapshots"]}
    shown: list[dict[str, Any]] = []
    for label, snapshot_id in (
        ("baseline", source.get("baseline_snapshot")),
        ("latest", source.get("latest_snapshot")),
    ):
        snap = by_id.get(snapshot_id or "")
        if snap is None or any(s["snapshot_id"] == snap["id"] for s in shown):
            continue
        shot = next((a for a in snap["artefacts"] if a["kind"] == "screenshot"), None)
        if shot is not None:
            shown.append(
                {
                    "label": label,
                    "snapshot_id": snap["id"],
                    "captured_at": snap["captured_at"],
                    "sha256": shot["sha256"],
                }
            )
    return shown


@router.get("/add", response_class=HTMLResponse)
def add_form(request: Request, principal: Admin) -> HTMLResponse:
    return render(request, "add.html", principal, feeds=feed_list(context(request)))


@router.post("/add", response_class=HTMLResponse)
def add_submit(
    request: Request,
    principal: Admin,
    csrf: Annotated[str | None, Form()] = None,
    url: Annotated[str | None, Form()] = None,
    file: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    check_csrf(request, csrf)
    ctx = context(request)
    try:
        outcome = add_report(ctx, principal, url=url, upload=file)
    except ArchiverError as exc:
        return render(
            request, "add.html", principal, status_code=422, error=str(exc), feeds=feed_list(ctx)
        )
    if outcome["already_stored"]:
        message = f"Already stored as report {outcome['report_id']}; nothing changed."
    else:
        message = (
            f"Added as report {outcome['report_id']}: {outcome['citations']} citations, "
            f"{outcome['sources']} sources ({outcome['new_sources']} new)."
        )
    return render(
        request,
        "add.html",
        principal,
        message=message,
        report_id=outcome["report_id"],
        feeds=feed_list(ctx),
    )


@router.post("/feeds", response_class=HTMLResponse)
def feed_submit(
    request: Request,
    principal: Admin,
    url: Annotated[str, Form()],
    csrf: Annotated[str | None, Form()] = None,
    link_pattern: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    check_csrf(request, csrf)
    ctx = context(request)
    try:
        add_feed(ctx, principal, url, link_pattern or None)
    except ArchiverError as exc:
        return render(
            request, "add.html", principal, status_code=422, error=str(exc), feeds=feed_list(ctx)
        )
    return render(
        request,
        "add.html",
        principal,
        message=f"Watching {url}: new reports are added at its next poll.",
        feeds=feed_list(ctx),
    )


def _not_found(request: Request, principal: Principal, detail: str) -> HTMLResponse:
    return render(
        request,
        "error.html",
        principal,
        status_code=404,
        status_code_value=404,
        title="Not found",
        detail=detail,
    )


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, principal: Admin) -> HTMLResponse:
    return _tokens(request, principal)


@router.post("/tokens", response_class=HTMLResponse)
def tokens_submit(
    request: Request,
    principal: Admin,
    csrf: Annotated[str | None, Form()] = None,
    name: Annotated[str | None, Form()] = None,
    role: Annotated[str | None, Form()] = None,
    revoke: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    check_csrf(request, csrf)
    archive = context(request).archive
    try:
        if revoke:
            revoked = revoke_token(archive.db, revoke, clock=archive.clock)
            return _tokens(
                request, principal, message=f"Revoked: {', '.join(t.name for t in revoked)}."
            )
        info, secret = create_token(
            archive.db, name=name or "", role=parse_role(role or ""), clock=archive.clock
        )
    except ArchiverError as exc:
        return _tokens(request, principal, error=str(exc), status_code=422)
    return _tokens(
        request,
        principal,
        message=f"Token for {info.name} ({info.role.value}). Copy it now: it is not shown again.",
        created=secret,
    )


def _tokens(
    request: Request, principal: Principal, status_code: int = 200, **values: Any
) -> HTMLResponse:
    tokens = list_tokens(context(request).archive.db)
    return render(
        request, "tokens.html", principal, status_code=status_code, tokens=tokens, **values
    )
