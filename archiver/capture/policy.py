"""Which capture methods a source gets: pure function of its kind and the settings."""

from __future__ import annotations

from collections.abc import Mapping


def capture_methods(kind: str, modes: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """ "http", "browser" or both (in that order) for a source of this ``kind``."""
    chosen = modes.get(kind) or modes["default"]
    return tuple(m for m in ("http", "browser") if m in chosen)


def wants_browser_after_http(methods: tuple[str, ...], content_type: str | None) -> bool:
    """A document or image found by the plain capture needs no browser: a reader
    sees the same bytes. HTML (or an unknown type) gets the browser when asked for."""
    if "browser" not in methods:
        return False
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media in {"text/html", "application/xhtml+xml", ""} or media.startswith("text/")
