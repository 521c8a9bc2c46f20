"""The FastAPI application: pages, the JSON API under /api/v1, health and metrics.

``create_app(archive, settings)`` builds it; ``archiver.web.serve`` runs it. Every
route needs a token (bearer header, or the login session of the pages) except
/healthz, /readyz and the login form itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from archiver import __version__
from archiver.app import Archive
from archiver.config import Settings
from archiver.web import api, dashboard, ops, pages, replay
from archiver.web._auth import LoginRequired, api_principal, session_secret
from archiver.web._context import WebContext
from archiver.web.replay import ViewLog
from archiver.web.throttle import LoginThrottle
from archiver.web.tokens import Principal

TEMPLATES = Path(__file__).with_name("templates")
# The pages use no script and load nothing from elsewhere.
DOCS_ASSETS = "/api/v1/docs/assets"
# Swagger UI's page starts itself with an inline script; everything it loads is ours.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
)
# The site's icon (the pages' header colour, a tick), answered without a token.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" '
    'height="16" rx="3" fill="#24292f"/><path d="M4 8.5l2.5 2.5L12 5" stroke="#fff" '
    'stroke-width="2" fill="none"/></svg>'
)
# On a phone (390 px), Swagger UI's schema boxes would widen the page: they scroll in place.
DOCS_STYLE = (
    "<style>.swagger-ui .model-container, .swagger-ui .opblock-body "
    "{ max-width: 100%; overflow-x: auto; }</style>"
)
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def create_app(
    archive: Archive,
    settings: Settings | None = None,
    *,
    login_throttle: LoginThrottle | None = None,
) -> FastAPI:
    """``login_throttle``: how wrong tokens are counted (tests give it their clock)."""
    settings = settings or archive.settings
    app = FastAPI(
        title="Evidence archiver",
        version=__version__,
        description=(
            "The evidence-status report as JSON, CSV and downloads. Authenticate with "
            "`Authorization: Bearer <token>` (tokens: `archiver token create`). Roles: "
            "viewer reads, lawyer also downloads evidence, admin also adds reports."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    # The bundled Swagger UI (4.15) reads OpenAPI 3.0 only: labelled 3.1 (FastAPI's
    # default), the docs page showed "Unable to render this definition".
    app.openapi_version = "3.0.3"
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals["plural"] = plural
    app.state.ctx = WebContext(archive, settings, templates)
    app.state.metrics = ops.registry_for(archive)
    app.state.login_throttle = LoginThrottle() if login_throttle is None else login_throttle
    app.state.replay_views = ViewLog()
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie="archiver_session",
        max_age=int(settings.web.session_max_age),
        same_site="lax",
        https_only=settings.web.secure_cookies,
    )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # Following a link to a source must not tell its site where the reader came from.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        policy = DOCS_POLICY if request.url.path == "/api/v1/docs" else PAGE_POLICY
        response.headers.setdefault("Content-Security-Policy", policy)
        return response

    app.include_router(ops.router)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(dashboard.router)
    app.include_router(replay.router)

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi(_: Annotated[Principal, Depends(api_principal)]) -> JSONResponse:
        return JSONResponse(app.openapi())

    # Swagger UI's own files, from the swagger-ui-bundle package: nothing from a CDN.
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/api/v1/docs", include_in_schema=False)
    def docs(_: Annotated[Principal, Depends(api_principal)]) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/api/v1/openapi.json",
            title="Evidence archiver API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )
        html = bytes(page.body).decode("utf-8").replace("</head>", DOCS_STYLE + "</head>", 1)
        return HTMLResponse(html)

    # Browsers ask for it on every page; without it each page would log a failed request.
    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(
            FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
        )

    @app.exception_handler(LoginRequired)
    def login_required(request: Request, _exc: LoginRequired) -> Response:
        return pages.login_page(request)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        # A person's browser gets a page; scripts get the usual JSON {"detail": ...}.
        if "text/html" in request.headers.get("accept", ""):
            if exc.status_code == 401:
                return pages.login_page(request)
            return _error_page(request, exc)
        return await http_exception_handler(request, exc)

    return app


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _error_page(request: Request, exc: HTTPException) -> Response:
    titles: dict[int, str] = {
        403: "Not allowed",
        404: "Not found",
        410: "Gone",
        422: "Not accepted",
        429: "Too many attempts",
        503: "Not available",
    }
    ctx: WebContext = request.app.state.ctx
    values: dict[str, Any] = {
        "principal": None,
        "csrf": "",
        "status_code": exc.status_code,
        "title": titles.get(exc.status_code, "Error"),
        "detail": exc.detail,
    }
    return ctx.templates.TemplateResponse(
        request, "error.html", values, status_code=exc.status_code, headers=exc.headers
    )
