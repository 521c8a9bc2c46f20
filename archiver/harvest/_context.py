"""The claim a citation supports: the text around a marker or link.

Monitoring reports pack date, place and person into a paragraph's first clause
("October 3, Kyzylorda, Baimagambetov M., ... stated that ...[1]"), so the sentence with
the marker alone often loses who and where. The rule:

* a paragraph of at most :data:`PARAGRAPH_LIMIT` characters is the context, whole;
* a longer one gives the sentence holding the marker, preceded by the paragraph's first
  sentence when that is a different one, joined with " … ";
* a single sentence longer than :data:`SENTENCE_LIMIT` is cut to a window around the
  marker, at word boundaries, with "…" where it was cut.

Whitespace is collapsed to single spaces. Footnote markers are already gone: parsers remove
them from the block text and record their offsets.
"""

from __future__ import annotations

import re
from bisect import bisect_left

PARAGRAPH_LIMIT = 600
SENTENCE_LIMIT = 1000
_WINDOW = 400
JOINER = " … "

_WS_RE = re.compile(r"\s+")
# Sentence end: terminal punctuation, optional closing quotes/brackets, then whitespace and
# something that can open a sentence (capital, digit, opening quote or bracket, dash).
_END_RE = re.compile(r"[.!?…]+[\"'»”’)\]]*(?=\s+[\"'«“„(\[—–-]?[0-9A-ZА-ЯЁӘҒҚҢӨҰҮҺІ])")
_WORD_BEFORE_RE = re.compile(r"([^\s.]+)\.$")


# Abbreviations after which a period does not end a sentence (compared case-folded).
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ABBREVIATIONS = _words(
    "mr mrs ms dr prof st art arts no nos nr p pp para paras vol ch sec cf vs jr sr gen "
    "col lt capt sgt gov rep sen inc ltd co corp jan feb mar apr jun jul aug sep sept oct "
    "nov dec approx dept est fig ст ч п пп г гг им ул д т тыс млн млрд руб тг обл р-н пос "
    "с см стр рис прим напр др"
)


def collapse(text: str) -> str:
    """Whitespace runs (including no-break spaces) to one space, ends stripped."""
    return _WS_RE.sub(" ", text).strip()


def _collapse_with_offset(text: str, offset: int) -> tuple[str, int]:
    collapsed = collapse(text)
    prefix = _WS_RE.sub(" ", text[:offset]).lstrip()
    return collapsed, min(len(prefix), len(collapsed))


def _is_abbreviation(text: str, period_at: int) -> bool:
    """Whether the period at ``period_at`` closes an abbreviation or an initial."""
    m = _WORD_BEFORE_RE.search(text, max(0, period_at - 12), period_at + 1)
    if m is None:
        return False
    word = m.group(1)
    if len(word) == 1 and word.isalpha():
        return True  # an initial: "Duysebayeva A. and Mirmanbetova G."
    return word.casefold() in _ABBREVIATIONS


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence in collapsed ``text``; ends include the punctuation."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _END_RE.finditer(text):
        if (
            m.group(0).startswith(".")
            and len(m.group(0)) == 1
            and _is_abbreviation(text, m.start())
        ):
            continue
        spans.append((start, m.end()))
        start = m.end()
        while start < len(text) and text[start] == " ":
            start += 1
    if start < len(text) or not spans:
        spans.append((start, len(text)))
    return spans


def _window(sentence: str, offset: int) -> str:
    """A piece of an over-long sentence around ``offset``, cut at spaces."""
    lo = max(0, offset - _WINDOW)
    hi = min(len(sentence), offset + _WINDOW)
    if lo > 0:
        space = sentence.find(" ", lo)
        lo = space + 1 if 0 <= space < offset else lo
    if hi < len(sentence):
        space = sentence.rfind(" ", offset, hi)
        hi = space if space > offset else hi
    piece = sentence[lo:hi].strip()
    return ("…" if lo > 0 else "") + piece + ("…" if hi < len(sentence) else "")


class BlockContext:
    """Context finder for one block; computes the sentence split once for many offsets."""

    def __init__(self, text: str) -> None:
        self._raw = text
        self._text = collapse(text)
        self._spans: list[tuple[int, int]] | None = None

    def at(self, offset: int) -> str:
        """The context for a marker or link at ``offset`` in the block's raw text."""
        if len(self._text) <= PARAGRAPH_LIMIT:
            return self._text
        text, pos = _collapse_with_offset(self._raw, offset)
        if self._spans is None:
            self._spans = sentence_spans(text)
        spans = self._spans
        # The first sentence ending at or after the offset: a marker written right after a
        # sentence's final period ("...years.[1] Next") belongs to that sentence.
        ends = [end for _, end in spans]
        index = min(bisect_left(ends, pos), len(spans) - 1)
        start, end = spans[index]
        sentence = text[start:end]
        if len(sentence) > SENTENCE_LIMIT:
            sentence = _window(sentence, pos - start)
        if index == 0:
            return sentence
        first = text[spans[0][0] : spans[0][1]]
        if len(first) > SENTENCE_LIMIT:
            first = _window(first, 0)
        return first + JOINER + sentence


def context_at(text: str, offset: int) -> str:
    """The context of a marker or link at ``offset`` in paragraph ``text`` (see module doc)."""
    return BlockContext(text).at(offset)
