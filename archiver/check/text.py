"""Main text of a page in two forms; similarity and a readable diff.

Dynamic noise is not alteration (DESIGN.md): ads, menus and "related articles" are cut
by extracting the main text (trafilatura). That text is kept in two forms:

- *literal* (:func:`literal`): Unicode NFKC, spaces collapsed, one paragraph a line,
  digits and names kept. Inside the main text, figures and names are often the claim
  itself: :mod:`archiver.check.figures` compares them, and diffs quote this form.
- *normalised* (:func:`normalize`): counters, dates and times masked (digits, month and
  weekday names), all whitespace collapsed; the similarity score is computed on it, so
  that a rotating date line the extractor lets through does not lower it.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass

import lxml.html  # type: ignore[import-untyped]
from lxml import etree

log = logging.getLogger(__name__)

# Below this many characters the extractor probably missed the content (a short
# not-found page, a login form): the page's whole visible text is used instead.
_MIN_MAIN_TEXT = 80

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|"
    "января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря|"
    "январь|февраль|март|апрель|май|июнь|июль|август|сентябрь|октябрь|ноябрь|декабрь"
)
_WEEKDAYS = (
    "monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    "понедельник|вторник|среда|четверг|пятница|суббота|воскресенье"
)
_DATE_WORDS = re.compile(rf"\b(?:{_MONTHS}|{_WEEKDAYS})\b", re.IGNORECASE)
_DIGITS = re.compile(r"\d+(?:[.,:/\-]\d+)*")
_SPACE = re.compile(r"\s+")
_LINE_SPACE = re.compile(r"[^\S\n]+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")

# The stored literal form of a baseline's text (table ``baselines``, ``text_form``):
# "article-1" when the extractor found an article body, "page-1" for the whole visible
# text. Figures are compared only article with article; a change of this form's
# definition gets a new number, and older baselines are read again from their WARC.
ARTICLE_FORM = "article-1"
PAGE_FORM = "page-1"


@dataclass(frozen=True)
class Extracted:
    """A page's text as the re-check compares it."""

    # Literal form (digits and names kept, one paragraph a line).
    text: str
    # The extractor found an article body; False: the whole visible text stands in.
    article: bool

    @property
    def form(self) -> str:
        return ARTICLE_FORM if self.article else PAGE_FORM

    @property
    def normalized(self) -> str:
        return normalize(self.text)


def extract(html: str) -> Extracted:
    """The page's main text (article body), or all of its visible text when no main
    text stands out, in literal form. Empty for an empty or unparsable page."""
    if not html.strip():
        return Extracted("", False)
    text = ""
    try:
        import trafilatura

        text = trafilatura.extract(html, include_comments=False, include_tables=True) or ""
    except (ValueError, TypeError, etree.LxmlError) as exc:  # malformed markup
        log.debug("main text extraction failed: %s", exc)
    if len(text) >= _MIN_MAIN_TEXT:
        return Extracted(literal(text), True)
    visible = visible_text(html)
    if len(visible) > len(text):
        return Extracted(literal(visible), False)
    return Extracted(literal(text), False)


def main_text(html: str) -> str:
    """The page's main text (article body), or all of its visible text when no main
    text stands out. Empty for an empty or unparsable page."""
    return extract(html).text


def literal(text: str) -> str:
    """Text with only its spacing made uniform: NFKC, runs of spaces collapsed, one
    paragraph a line, empty lines dropped. Digits, dates and names are kept."""
    text = unicodedata.normalize("NFKC", text)
    lines = (_LINE_SPACE.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def visible_text(html: str) -> str:
    """All text a reader could see (scripts, styles and comments dropped)."""
    try:
        root = lxml.html.document_fromstring(html)
    except (ValueError, etree.ParserError):
        return ""
    for bad in root.xpath("//script|//style|//noscript|//template"):
        bad.drop_tree()
    return " ".join(t.strip() for t in root.itertext() if t.strip())


def normalize(text: str) -> str:
    """Text with counters, dates, times and spacing made uniform."""
    text = unicodedata.normalize("NFKC", text)
    text = _DIGITS.sub("#", text)
    text = _DATE_WORDS.sub("<date>", text)
    return _SPACE.sub(" ", text).strip()


def fingerprint(normalized: str) -> str:
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def similarity(a: str, b: str) -> float:
    """1.0 for the same words in the same order, 0.0 for nothing in common."""
    if a == b:
        return 1.0
    left, right = a.split(), b.split()
    if not left or not right:
        return 0.0
    return difflib.SequenceMatcher(None, left, right, autojunk=False).ratio()


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def changed_sentences(before: str, after: str, *, limit: int = 50) -> list[str]:
    """A readable diff: removed sentences as ``- ...``, added ones as ``+ ...``."""
    out: list[str] = []
    for line in difflib.ndiff(sentences(before), sentences(after)):
        if line[:2] in ("- ", "+ "):
            out.append(line)
            if len(out) >= limit:
                out.append(f"... (diff cut at {limit} sentences)")
                break
    return out
