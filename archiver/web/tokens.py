"""API tokens: who may read the evidence status, who may download evidence, who may add.

A token is 32 random bytes (``arch_`` + URL-safe base64), shown once when created.
Only its sha256 is stored: a stolen database does not yield usable tokens, and for a
value with 256 bits of entropy a plain hash is as strong as a slow one. Looking a
token up by its hash and comparing with :func:`hmac.compare_digest` keeps the check
independent of how many characters of a guess were right.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select

from archiver.errors import AccessError
from archiver.models import ApiToken
from archiver.store.db import Database, parse_row_id

TOKEN_PREFIX = "arch_"
LAST_USED_RESOLUTION = timedelta(minutes=5)


class Role(StrEnum):
    VIEWER = "viewer"
    LAWYER = "lawyer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """Roles are nested: a lawyer can do what a viewer can, an admin everything."""
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.LAWYER: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class Principal:
    """Who is asking: the token's id, name and role (never the token itself)."""

    token_id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """How the custody log names this person."""
        return f"web:{self.name}"


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def token_json(info: TokenInfo) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat().replace("+00:00", "Z")

    return {
        "id": info.id,
        "name": info.name,
        "role": info.role.value,
        "prefix": info.prefix,
        "created_at": iso(info.created_at),
        "last_used_at": iso(info.last_used_at),
        "revoked_at": iso(info.revoked_at),
    }


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_role(value: str) -> Role:
    try:
        return Role(value.lower())
    except ValueError as exc:
        choices = ", ".join(r.value for r in Role)
        raise AccessError(f"unknown role {value!r}: expected one of {choices}") from exc


def create_token(
    db: Database, *, name: str, role: Role, clock: Callable[[], datetime]
) -> tuple[TokenInfo, str]:
    """Store a new token's hash; returns its description and the token (shown once)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AccessError("a token needs a name of 1 to 100 characters (who holds it)")
    token = new_token()
    row = ApiToken(
        name=name,
        role=role.value,
        token_sha256=hash_token(token),
        prefix=token[: len(TOKEN_PREFIX) + 4],
        created_at=clock(),
    )
    with db.session() as session:
        session.add(row)
        session.flush()
        info = _info(row)
    return info, token


def list_tokens(db: Database) -> list[TokenInfo]:
    with db.session() as session:
        return [_info(row) for row in session.scalars(select(ApiToken).order_by(ApiToken.id))]


def revoke_token(db: Database, ref: str, *, clock: Callable[[], datetime]) -> list[TokenInfo]:
    """Revoke the token with this id, or every active token with this name."""
    with db.session() as session:
        missing = AccessError(f"{ref[:100]}: no active token with this id or name")
        query = select(ApiToken).where(ApiToken.revoked_at.is_(None))
        if ref.isascii() and ref.isdigit():
            # An id; one out of range names no token (and is not sent to the database).
            token_id = parse_row_id(ref)
            if token_id is None:
                raise missing
            query = query.where(ApiToken.id == token_id)
        else:
            query = query.where(ApiToken.name == ref)
        rows = session.scalars(query).all()
        if not rows:
            raise missing
        for row in rows:
            row.revoked_at = clock()
        return [_info(row) for row in rows]


def active_token_count(db: Database) -> int:
    with db.session() as session:
        count = session.scalar(
            select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None))
        )
    return int(count or 0)


def authenticate(
    db: Database, token: str, *, clock: Callable[[], datetime] | None = None
) -> Principal | None:
    """The principal for a presented token, or None (unknown, revoked, malformed)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    with db.session() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.token_sha256 == digest)).first()
        if row is None or not hmac.compare_digest(row.token_sha256, digest):
            return None
        if row.revoked_at is not None:
            return None
        if clock is not None:
            # At most one write per token and few minutes: not one per request.
            now = clock()
            if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
                row.last_used_at = now
        return Principal(row.id, row.name, Role(row.role))


def principal_by_id(db: Database, token_id: int) -> Principal | None:
    """The principal behind a login session, while its token is still valid."""
    with db.session() as session:
        row = session.get(ApiToken, token_id)
        if row is None or row.revoked_at is not None:
            return None
        return Principal(row.id, row.name, Role(row.role))


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
