"""An operator-supplied login session (Facebook): loaded, used, never stored.

Two file formats are accepted, named by ``platforms.facebook_session``:

- a Playwright storage-state JSON (``{"cookies": [...], "origins": [...]}``), as written
  by ``context.storage_state(path=...)`` after logging in by hand;
- a Netscape ``cookies.txt`` (browser extensions and ``yt-dlp --cookies`` write it).

Every cookie value (and localStorage value) is a secret. :class:`SessionSecrets` finds
and replaces them wherever the archiver would otherwise write them: request and
response heads, bodies, the yt-dlp info JSON and log lines. What was replaced is
recorded (where, not what) so the snapshot says a redaction was made.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.errors import ConfigError

REDACTED = "[redacted]"
# Values this short (flags such as "1", "en_US") are not secrets worth scrubbing and
# would mangle unrelated bytes.
_MIN_SECRET = 8


@dataclass(frozen=True)
class SessionSecrets:
    values: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.values)

    def _pattern(self) -> re.Pattern[bytes] | None:
        if not self.values:
            return None
        alternatives = sorted((re.escape(v.encode()) for v in self.values), key=len, reverse=True)
        return re.compile(b"|".join(alternatives))

    def redact_bytes(self, data: bytes) -> tuple[bytes, int]:
        pattern = self._pattern()
        if pattern is None:
            return data, 0
        return pattern.subn(REDACTED.encode(), data)

    def redact_text(self, text: str) -> str:
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return text

    def redact_json(self, value: Any) -> Any:
        """A JSON-like value with secrets replaced and cookie fields removed."""
        if isinstance(value, dict):
            return {
                k: (
                    REDACTED
                    if k.lower() in ("cookie", "cookies", "set-cookie")
                    else self.redact_json(v)
                )
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.redact_json(v) for v in value]
        if isinstance(value, str):
            return self.redact_text(value)
        return value


NO_SECRETS = SessionSecrets(frozenset())


@dataclass(frozen=True)
class OperatorSession:
    """Cookies to send; ``storage_state`` for Playwright, ``cookies_txt`` for yt-dlp."""

    source: Path
    storage_state: dict[str, Any]
    secrets: SessionSecrets
    cookie_names: tuple[str, ...] = field(default=())

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
    values = frozenset(v for v in _secret_values(state) if len(v) >= _MIN_SECRET)
    return OperatorSession(
        source=path,
        storage_state=state,
        secrets=SessionSecrets(values),
        cookie_names=tuple(str(c["name"]) for c in state["cookies"]),
    )


# -- logs ---------------------------------------------------------------------------------

_LOG_SECRETS: set[str] = set()
_factory_installed = False


def redact_logs(secrets: SessionSecrets) -> None:
    """From now on, replace these values in every log record of the process, whoever
    logs it (httpcore's debug trace prints response headers, Set-Cookie included).

    A record factory rather than a filter: filters sit on one logger or handler, while
    every record of every logger is made by the factory."""
    global _factory_installed
    _LOG_SECRETS.update(v for v in secrets.values if v)
    if _factory_installed or not _LOG_SECRETS:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        if any(value in message for value in _LOG_SECRETS):
            record.msg = SessionSecrets(frozenset(_LOG_SECRETS)).redact_text(message)
            record.args = None
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True
