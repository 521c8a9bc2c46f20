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
from archiver.web.replay import REPLAY_PAGE_POLICY, replay_panel
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


@router.get("/sources/{source_id}", response_class=HTMLResponse)
def source_page(request: Request, source_id: q.RowId, principal: Viewer) -> HTMLResponse:
    if not is_row_id(source_id):
        return not_found(request, principal, "No such source.")
    ctx = context(request)
    document = q.status_document(ctx.archive.db, ctx.archive.clock, source_ids=[source_id])
    view = q.source_view(ctx.archive.db, document, source_id)
    if view is None:
        return not_found(request, principal, "No such source.")
    for entry in view.timeline:
        entry["at_text"] = q.iso(entry["at"])
    compared = _compared(view.source, view.page_titles)
    then_and_now = _then_and_now(view)
    if then_and_now and then_and_now["then"]:
        # The last preserved snapshot is shown there already.
        shown = then_and_now["then"]["snap"]["id"]
        compared = [p for p in compared if p["snap"]["id"] != shown]
    replay = replay_panel(ctx, view.source, request.query_params.get("replay"))
    response = render(
        request,
        "source.html",
        principal,
        view=view,
        compared=compared,
        then_and_now=then_and_now,
        replay=replay,
    )
    if replay and replay["available"]:
        # ReplayWeb.page's script, service worker and frame, all from this origin.
        response.headers["Content-Security-Policy"] = REPLAY_PAGE_POLICY
    return response


# States, suspected or confirmed, whose source page puts the last preserved snapshot
# beside what the site answers now.
GONE = ("dead", "removed")


def _panel(label: str, snap: dict[str, Any], titles: dict[str, str]) -> dict[str, Any]:
    shot = next((a for a in snap["artefacts"] if a["kind"] == "screenshot"), None)
    return {
        "label": label,
        "snap": snap,
        "title": titles.get(snap["id"]),
        "screenshot": shot["sha256"] if shot else None,
    }


def _compared(source: dict[str, Any], titles: dict[str, str]) -> list[dict[str, Any]]:
    """The baseline and the latest preserved snapshot, labelled, side by side (the
    baseline stays the baseline, whatever was captured after it); one when they are
    the same snapshot."""
    by_id = {snap["id"]: snap for snap in source["snapshots"]}
    shown: list[dict[str, Any]] = []
    for label, snapshot_id in (
        ("baseline", source.get("baseline_snapshot")),
        ("latest", source.get("latest_snapshot")),
    ):
        snap = by_id.get(snapshot_id or "")
        if snap is not None and all(p["snap"]["id"] != snap["id"] for p in shown):
            shown.append(_panel(label, snap, titles))
    return shown


def _then_and_now(view: q.SourceView) -> dict[str, Any] | None:
    """For a dead or removed source (or one suspected to be): the last preserved
    snapshot, and the latest observation, what the site answers now."""
    source = view.source
    suspicion = source.get("suspected") or {}
    if source["state"] not in GONE and suspicion.get("state") not in GONE:
        return None
    last = next((s for s in source["snapshots"] if s["id"] == source.get("latest_snapshot")), None)
    return {
        "then": _panel("last preserved", last, view.page_titles) if last else None,
        "now": view.timeline[-1] if view.timeline else None,
    }


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


def not_found(request: Request, principal: Principal, detail: str) -> HTMLResponse:
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
