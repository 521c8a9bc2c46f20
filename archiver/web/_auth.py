"""Who is asking: a bearer token (API, scripts) or a login session (pages).

Both carry the same tokens. A session cookie holds only the token's id and a CSRF
value, signed with the web secret; the token itself is never stored in the cookie,
logged, or echoed. A revoked token ends its sessions at their next request.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from archiver.config import Settings
from archiver.errors import StoreError
from archiver.store.files import fsync_dir
from archiver.web._context import WebContext
from archiver.web.throttle import LoginThrottle
from archiver.web.tokens import Principal, Role, authenticate, principal_by_id

bearer_scheme = HTTPBearer(auto_error=False, description="An API token: archiver token create")

SESSION_TOKEN_KEY = "tid"
SESSION_CSRF_KEY = "csrf"


class LoginRequired(Exception):
    """A page was asked for without a valid session: answered with the login form."""


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx


def _throttle(request: Request) -> tuple[LoginThrottle, str]:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle, request.client.host if request.client else "unknown"


def retry_after(request: Request) -> int:
    """Whole seconds this client must wait before presenting a token (0: it may)."""
    throttle, client = _throttle(request)
    wait = throttle.wait(client)
    return max(1, math.ceil(wait)) if wait > 0 else 0


def held_up(seconds: int) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"too many wrong tokens from this address; try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


def check_token(request: Request, token: str) -> Principal | None:
    """The principal for a presented token, counting wrong ones per client; a client
    that must wait gets 429 and its token is not looked at (archiver.web.throttle)."""
    wait = retry_after(request)
    if wait:
        raise held_up(wait)
    ctx = context(request)
    found = authenticate(ctx.archive.db, token, clock=ctx.archive.clock)
    if found is None:
        throttle, client = _throttle(request)
        throttle.failed(client)
    return found


def _from_request(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal | None:
    ctx = context(request)
    if credentials is not None:
        return check_token(request, credentials.credentials)
    token_id = request.session.get(SESSION_TOKEN_KEY)
    if isinstance(token_id, int):
        found = principal_by_id(ctx.archive.db, token_id)
        if found is None:
            request.session.clear()
        return found
    return None


def _unauthorized() -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="a valid API token is needed (Authorization: Bearer <token>)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _forbidden(principal: Principal, needed: Role) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_403_FORBIDDEN,
        detail=f"the {principal.role.value} role cannot do this; it needs {needed.value}",
    )


def api_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """API: a bearer token, or the browser's login session (for links on the pages)."""
    found = _from_request(request, credentials)
    if found is None:
        raise _unauthorized()
    return found


def bearer_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """Changes through the API need the bearer header: a cookie alone could be sent by
    another site's form (CSRF); the pages' own forms carry a CSRF value instead."""
    if credentials is None:
        raise _unauthorized()
    return api_principal(request, credentials)


def api_role(needed: Role, *, bearer_only: bool = False) -> object:
    source = bearer_principal if bearer_only else api_principal

    # The dependency is a closure, so its default carries Depends (a string annotation
    # naming a local could not be resolved by FastAPI).
    def dependency(principal: Principal = Depends(source)) -> Principal:  # noqa: B008
        if not principal.role.allows(needed):
            raise _forbidden(principal, needed)
        return principal

    return Depends(dependency)


def page_principal(request: Request) -> Principal:
    """Pages: the login session, or a bearer header (curl, monitoring, tests)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    credentials = None
    if scheme.lower() == "bearer" and value.strip():
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=value.strip())
    found = _from_request(request, credentials)
    if found is None:
        raise LoginRequired()
    return found


def page_role(needed: Role) -> object:
    def dependency(principal: Principal = Depends(page_principal)) -> Principal:  # noqa: B008
        if not principal.role.allows(needed):
            raise _forbidden(principal, needed)
        return principal

    return Depends(dependency)


def csrf_token(request: Request) -> str:
    value = request.session.get(SESSION_CSRF_KEY)
    if not isinstance(value, str):
        value = secrets.token_urlsafe(24)
        request.session[SESSION_CSRF_KEY] = value
    return value


def check_csrf(request: Request, presented: str | None) -> None:
    expected = request.session.get(SESSION_CSRF_KEY)
    if (
        not isinstance(expected, str)
        or not presented
        or not secrets.compare_digest(expected, presented)
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form has expired; reload the page")


def session_secret(settings: Settings) -> str:
    """web.session_secret, else a random one kept (0600) in <storage>/web/secret."""
    if settings.web.session_secret:
        return settings.web.session_secret
    path: Path = settings.storage.root / "web" / "secret"
    try:
        if path.is_file():
            return path.read_text(encoding="ascii").strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".secret.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_urlsafe(48))
            fh.flush()
            os.fsync(fh.fileno())
        # Two processes starting together: the first link wins, both read its value.
        try:
            os.link(temporary, path)
            fsync_dir(path.parent)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
        return path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise StoreError(f"cannot keep the web session secret in {path}: {exc.strerror}") from exc
