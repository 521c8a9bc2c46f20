"""An operator-supplied login session (Facebook): loaded, used, never stored.

Two file formats are accepted, named by ``platforms.facebook_session``:

- a Playwright storage-state JSON (``{"cookies": [...], "origins": [...]}``), as written
  by ``context.storage_state(path=...)`` after logging in by hand;
- a Netscape ``cookies.txt`` (browser extensions and ``yt-dlp --cookies`` write it).

Every cookie value (and localStorage value) is a secret. The cookies never enter a
browser's cookie jar, where the archived page's scripts could read them
(``document.cookie``): :meth:`OperatorSession.cookie_header` gives the Cookie header the
capture's network layer adds to requests for the cookies' own hosts only. The values, in
every form (:mod:`archiver.secrets`), are replaced wherever the archiver would otherwise
write them: request and response heads, bodies, the rendered DOM, the yt-dlp info JSON,
every WARC record and log lines. What was replaced is recorded (where, not what) so the
snapshot says a redaction was made.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archiver.errors import ConfigError
from archiver.secrets import NO_SECRETS, REDACTED, Secrets, redact_logs
from archiver.secrets._forms import MIN_SECRET

# Kept for callers that name the session's secrets by their old name.
SessionSecrets = Secrets


@dataclass(frozen=True)
class OperatorSession:
    """Cookies to send; ``storage_state`` for Playwright, ``cookies_txt`` for yt-dlp."""

    source: Path
    storage_state: dict[str, Any]
    secrets: Secrets
    cookie_names: tuple[str, ...] = field(default=())

    def cookie_header(self, url: str) -> str | None:
        """The session's cookies that a browser would send to ``url`` (domain, path and
        Secure matched as RFC 6265 says), as one Cookie header value; None for others."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        path = parts.path or "/"
        pairs = []
        for cookie in self.storage_state.get("cookies", []):
            domain = str(cookie.get("domain", "")).lower().lstrip(".")
            if not domain or not (host == domain or host.endswith("." + domain)):
                continue
            if cookie.get("secure") and parts.scheme != "https":
                continue
            if not path.startswith(str(cookie.get("path") or "/")):
                continue
            pairs.append(f"{cookie['name']}={cookie['value']}")
        return "; ".join(pairs) or None

    def cookies_txt(self) -> str:
        lines = ["# Netscape HTTP Cookie File"]
        for c in self.storage_state.get("cookies", []):
            domain = str(c.get("domain", ""))
            expires = int(c.get("expires") or 0)
            lines.append(
                "\t".join(
                    [
                        domain,
                        "TRUE" if domain.startswith(".") else "FALSE",
                        str(c.get("path") or "/"),
                        "TRUE" if c.get("secure") else "FALSE",
                        str(max(expires, 0)),
                        str(c["name"]),
                        str(c["value"]),
                    ]
                )
            )
        return "\n".join(lines) + "\n"

    @contextmanager
    def cookie_file(self) -> Iterator[Path]:
        """The cookies as a private cookies.txt outside storage, removed afterwards (yt-dlp
        writes its cookie jar back to this file, so it never gets the operator's own)."""
        folder = Path(tempfile.mkdtemp(prefix="archiver-session-"))
        path = folder / "cookies.txt"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self.cookies_txt())
            yield path
        finally:
            for leftover in folder.iterdir():
                leftover.unlink()
            folder.rmdir()


def _from_cookies_txt(text: str, where: Path) -> dict[str, Any]:
    cookies = []
    for number, line in enumerate(text.splitlines(), 1):
        http_only = line.startswith("#HttpOnly_")
        if http_only:
            line = line[len("#HttpOnly_") :]
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 7:
            raise ConfigError(
                f"platforms.facebook_session {where}: line {number} is not a cookies.txt line "
                "(7 tab-separated fields)"
            )
        domain, _, path, secure, expires, name, value = parts
        cookies.append(
            {
                "name": name,
                "value": value,
                "domain": domain,
                "path": path or "/",
                "expires": float(expires)
                if expires.strip().lstrip("-").isdigit() and int(expires) > 0
                else -1,
                "httpOnly": http_only,
                "secure": secure.upper() == "TRUE",
                "sameSite": "Lax",
            }
        )
    return {"cookies": cookies, "origins": []}


def _check_state(data: Any, where: Path) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("cookies", []), list):
        raise ConfigError(f"platforms.facebook_session {where}: not a Playwright storage state")
    for cookie in data.get("cookies", []):
        if not isinstance(cookie, dict) or not {"name", "value", "domain"} <= cookie.keys():
            raise ConfigError(
                f"platforms.facebook_session {where}: each cookie needs name, value and domain"
            )
    data.setdefault("origins", [])
    return data


def _secret_values(state: dict[str, Any]) -> Iterable[str]:
    for cookie in state.get("cookies", []):
        yield str(cookie["value"])
    for origin in state.get("origins", []):
        for item in origin.get("localStorage", []) if isinstance(origin, dict) else []:
            if isinstance(item, dict):
                yield str(item.get("value", ""))


def load_session(path: Path) -> OperatorSession:
    """Read a session file; a clear ConfigError if it cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"platforms.facebook_session: cannot read {path}: {exc}") from exc
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            state = _check_state(json.loads(text), path)
        except ValueError as exc:
            raise ConfigError(f"platforms.facebook_session {path}: invalid JSON: {exc}") from exc
    else:
        state = _from_cookies_txt(text, path)
    if not state["cookies"]:
        raise ConfigError(f"platforms.facebook_session {path}: no cookies in it")
    values = frozenset(v for v in _secret_values(state) if len(v) >= MIN_SECRET)
    return OperatorSession(
        source=path,
        storage_state=state,
        secrets=Secrets(values),
        cookie_names=tuple(str(c["name"]) for c in state["cookies"]),
    )


__all__ = [
    "NO_SECRETS",
    "REDACTED",
    "OperatorSession",
    "SessionSecrets",
    "load_session",
    "redact_logs",
]
