"""Plain-text reports: paragraphs, "[12]" markers, and a numbered notes list.

Lines that open a note ("[12]https://...", "[12] Azattyq, 4 Oct: https://...",
"12. https://...", "12) https://...", "¹² https://...") are notes, wherever they stand; a
note goes on over the following non-blank lines until a blank line or the next note.
Everything else is body text, split into paragraphs either one per line (reports exported
from web pages and word processors, where a paragraph is one long line) or at blank lines
(hard-wrapped text), decided per document.

Also the back end of the PDF parser, which hands over lines of page text plus link
annotations it could not place in the text (``extra_links``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence

from archiver.harvest._ir import Anchor, Block, Note, Parsed
from archiver.harvest._links import LinkVetter
from archiver.harvest._notes import (
    add_bare_urls,
    has_url,
    merge_note,
    note_from_text,
    parse_note_start,
    strip_markers,
    unknown_marker_warning,
)

_BULLET_RE = re.compile(r"^\s*(?:[-*•‣◦–—]\s|\d{1,3}[.)]\s|#{1,6}\s)")
_SKIP_LINK_RE = re.compile(
    r"(?i)^(?:skip to (?:main )?content|jump to content|перейти к содержанию"
    r"|нажмите .{1,3}enter.{1,3} для перехода к содержанию)\W*$"
)
_TITLE_MAX = 200
_WRAP_MIN, _WRAP_MAX = 40, 100


def split_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n").split("\n")


def is_hard_wrapped(lines: Sequence[str]) -> bool:
    """Whether consecutive non-blank lines are pieces of one paragraph (wrapped at ~80).

    True when no line is long and most lines that are followed by another non-blank line
    are of wrap-like length; a text whose paragraphs are single long lines is not.
    """
    lengths = [len(line.strip()) for line in lines if line.strip()]
    if not lengths or max(lengths) > 2 * _WRAP_MAX:
        return False
    inner = [
        len(line.strip())
        for line, following in itertools.pairwise(lines)
        if line.strip() and following.strip()
    ]
    if not inner:
        return False
    wrapped = sum(_WRAP_MIN <= n <= _WRAP_MAX for n in inner)
    return wrapped >= 0.7 * len(inner)


def _title(lines: Sequence[str], note_lines: set[int]) -> str | None:
    for index, line in enumerate(lines):
        text = " ".join(line.split())
        if not text or index in note_lines or _SKIP_LINK_RE.match(text):
            continue
        if len(text) <= _TITLE_MAX and len(text.split()) >= 2:
            return text
        return None
    return None


def _collect_notes(
    lines: Sequence[str],
) -> tuple[list[tuple[str, int, list[int]]], set[int]]:
    """Notes as (label, first line, all lines), and the set of lines they occupy."""
    notes: list[tuple[str, int, list[int]]] = []
    used: set[int] = set()
    i = 0
    while i < len(lines):
        start = parse_note_start(lines[i])
        if start is None:
            i += 1
            continue
        members = [i]
        j = i + 1
        while j < len(lines) and lines[j].strip() and parse_note_start(lines[j]) is None:
            members.append(j)
            j += 1
        if not start.strong and not any(has_url(lines[k]) for k in members):
            i += 1
            continue
        notes.append((start.label, i, members))
        used.update(members)
        i = j
    return notes, used


def _paragraphs(
    lines: Sequence[str], skip: set[int], joined: bool
) -> list[tuple[str, list[tuple[int, int]]]]:
    """Body paragraphs as (text, [(line index, offset of that line in text)])."""
    out: list[tuple[str, list[tuple[int, int]]]] = []
    text = ""
    starts: list[tuple[int, int]] = []

    def flush() -> None:
        nonlocal text, starts
        if text.strip():
            out.append((text, starts))
        text, starts = "", []

    for index, line in enumerate(lines):
        if index in skip or not line.strip():
            flush()
            continue
        if not joined or _BULLET_RE.match(line):
            flush()
        if text:
            text += " "
        starts.append((index, len(text)))
        text += line.strip()
    flush()
    return out


def parse_lines(
    lines: Sequence[str],
    vetter: LinkVetter,
    *,
    joined: bool | None = None,
    extra_links: Mapping[int, Sequence[str]] | None = None,
) -> Parsed:
    """Parse text lines. ``joined`` forces blank-line paragraphs (True) or one per line
    (False); None decides from the text. ``extra_links`` maps a line index to URLs known to
    be on that line but not written in its text (PDF link annotations)."""
    extra_links = extra_links or {}
    parsed = Parsed()
    found, note_lines = _collect_notes(lines)
    notes: dict[str, Note] = {}
    for label, first, members in found:
        start = parse_note_start(lines[first])
        assert start is not None
        text = " ".join([start.rest.strip()] + [lines[k].strip() for k in members[1:]])
        note = note_from_text(label, label, text, vetter)
        for k in members:
            for url in extra_links.get(k, ()):
                if url not in note.urls:
                    note.urls.append(url)
        merge_note(notes, note, parsed.warnings)
    if joined is None:
        joined = is_hard_wrapped([line for i, line in enumerate(lines) if i not in note_lines])
    keys = {label: label for label in notes}
    unknown: list[str] = []
    for text, starts in _paragraphs(lines, note_lines, joined):
        block = Block(text, source=(starts[0][0], starts[-1][0]))
        for index, offset in starts:
            for url in extra_links.get(index, ()):
                block.anchors.append(Anchor(offset, url=url))
        if keys:
            block, missing = strip_markers(block, keys)
            unknown.extend(missing)
        add_bare_urls(block, vetter)
        parsed.blocks.append(block)
    parsed.notes = list(notes.values())
    parsed.title = _title(lines, note_lines)
    warning = unknown_marker_warning(unknown)
    if warning:
        parsed.warnings.append(warning)
    parsed.extra["paragraphs"] = "joined" if joined else "lines"
    return parsed


def parse_text(text: str, vetter: LinkVetter) -> Parsed:
    """Parse a decoded plain-text report."""
    return parse_lines(split_lines(text), vetter)
