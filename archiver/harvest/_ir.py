"""The intermediate form every format parser produces, before citations are assembled.

A parser turns a document into *blocks* (paragraphs of display text, footnote markers
already removed) carrying *anchors* (a footnote reference or an inline link at an offset
in the block's text), plus the document's *notes* (footnote or end-note entries with the
URLs they list). :mod:`archiver.harvest._assemble` turns that into citations, so every
format gets the same rules for order, duplicates and context.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archiver.harvest.model import SkippedLink


@dataclass(slots=True)
class Anchor:
    """A citing point at ``offset`` in a block: a link (``url``) or a note reference."""

    offset: int
    url: str | None = None
    note_key: str | None = None
    label: str | None = None  # the marker as shown, for a note reference


@dataclass(slots=True)
class Block:
    """One paragraph: display text plus its citing points.

    ``link_spans`` are the ranges of ``text`` shown as link text (an HTML ``<a>``, a
    Markdown ``[text](url)``); bare URLs found inside them are not cited a second time.
    ``source`` is parser-specific bookkeeping (e.g. the line numbers a block came from).
    """

    text: str
    anchors: list[Anchor] = field(default_factory=list)
    link_spans: list[tuple[int, int]] = field(default_factory=list)
    source: tuple[int, int] | None = None


@dataclass(slots=True)
class Note:
    """A footnote or end-note: ``marker`` as displayed, its URLs, and its text without them.

    ``marker`` is None for an entry with no displayed number (e.g. a Markdown link
    definition that nothing refers to).
    """

    key: str
    marker: str | None
    urls: list[str]
    text: str = ""


@dataclass(slots=True)
class Parsed:
    """Everything a parser found, ready for :func:`archiver.harvest._assemble.assemble`."""

    blocks: list[Block] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    title: str | None = None
    skipped: list[SkippedLink] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)


def overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    """True when ``[start, end)`` intersects any of ``spans``."""
    return any(start < s_end and s_start < end for s_start, s_end in spans)
