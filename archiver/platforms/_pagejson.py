"""JSON objects embedded in a page's scripts (``var x = {...};``), found without a
JavaScript engine: the text after a marker is decoded by ``json.JSONDecoder.raw_decode``,
which stops at the end of the first complete value."""

from __future__ import annotations

import html as htmllib
import json
import re
from typing import Any

_DECODER = json.JSONDecoder()
_TAGS = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>|<!--.*?-->|<[^>]+>", re.S | re.I)


def object_after(text: str, marker: str | re.Pattern[str]) -> dict[str, Any] | None:
    """The first JSON object following any occurrence of ``marker`` (and an ``=`` or
    ``:``), or None."""
    pattern = marker if isinstance(marker, re.Pattern) else re.compile(re.escape(marker))
    for match in pattern.finditer(text):
        start = text.find("{", match.end(), match.end() + 40)
        if start < 0:
            continue
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def visible_text(html: str) -> str:
    """The page's text with scripts, styles and comments removed, entities decoded."""
    return htmllib.unescape(_TAGS.sub(" ", html))


def title_of(html: str) -> str | None:
    match = re.search(r"<title[^>]*>(.*?)</title>", html, re.S | re.I)
    if match is None:
        return None
    title = " ".join(htmllib.unescape(match.group(1)).split())
    return title or None


def meta_content(html: str, prop: str) -> str | None:
    """``<meta property|name="prop" content="...">`` (attributes in either order)."""
    for pattern in (
        rf'<meta[^>]+(?:property|name)=["\']{re.escape(prop)}["\'][^>]*content=["\']([^"\']*)',
        rf'<meta[^>]+content=["\']([^"\']*)["\'][^>]*(?:property|name)=["\']{re.escape(prop)}["\']',
    ):
        match = re.search(pattern, html, re.I)
        if match:
            return htmllib.unescape(match.group(1))
    return None


def texts(node: Any) -> list[str]:
    """Every ``simpleText`` and ``runs[].text`` under a YouTube renderer node."""
    found: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("simpleText"), str):
            found.append(node["simpleText"])
        runs = node.get("runs")
        if isinstance(runs, list):
            joined = "".join(r.get("text", "") for r in runs if isinstance(r, dict))
            if joined:
                found.append(joined)
        for key, value in node.items():
            if key not in ("simpleText", "runs"):
                found.extend(texts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(texts(item))
    elif isinstance(node, str):
        found.append(node)
    return found
