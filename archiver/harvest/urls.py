"""Finding URLs in running text and cleaning them as cited. Pure functions.

(First version; hardened with exhaustive tests in tests/unit/harvest/test_urls.py.)
"""

from __future__ import annotations

import re

from archiver.harvest.model import UrlMatch

_URL_RE = re.compile(r"(?i)\bhttps?://[^\s<>\"'`]+")
_TRAILING = ".,;:!?'\"”’»"
_PAIRS = {")": "(", "]": "[", "}": "{"}


def clean_url(raw: str) -> str:
    """Strip trailing punctuation and unbalanced closing brackets that end a sentence."""
    url = raw
    while url:
        last = url[-1]
        if last in _TRAILING:
            url = url[:-1]
        elif last in _PAIRS and url.count(_PAIRS[last]) < url.count(last):
            url = url[:-1]
        else:
            break
    return url


def find_urls(text: str) -> list[UrlMatch]:
    """Every http(s) URL in ``text``, in order, cleaned of trailing punctuation."""
    found: list[UrlMatch] = []
    for m in _URL_RE.finditer(text):
        url = clean_url(m.group(0))
        if len(url) > len("https://"):
            found.append(UrlMatch(m.start(), m.start() + len(url), url))
    return found
