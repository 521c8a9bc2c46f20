"""Numbered notes written as text: "[12]https://..." lists and "[12]" markers in the body.

Shared by the plain-text and PDF parsers, and used as a fallback by the structured formats
(HTML, Markdown, DOCX) when a document has no real footnotes but writes them by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from archiver.harvest._context import collapse
from archiver.harvest._ir import Anchor, Block, Note, Parsed, overlaps
from archiver.harvest._links import LinkVetter
from archiver.harvest.urls import find_urls

SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_SUPER_TO_ASCII = str.maketrans(SUPERSCRIPTS, "0123456789")

# "[12]..." always opens a note; "12. ", "12) ", "(12) " and "¹²" open one only when the
# note holds a URL (otherwise they are ordinary numbered lines).
_BRACKET_NOTE_RE = re.compile(r"^\s*\[(\d{1,5})\]\s*(.*)$", re.S)
_WEAK_NOTE_RE = re.compile(
    rf"^\s*(?:(\d{{1,5}})[.)]\s+|\((\d{{1,5}})\)\s+|([{SUPERSCRIPTS}]{{1,5}})\s*)(.*)$", re.S
)
_MARKER_RE = re.compile(rf"\[(\d{{1,5}})\]|(?<=\S)([{SUPERSCRIPTS}]{{1,5}})")
_NOTE_TEXT_TRIM = " \t:;,.-–—|/"


@dataclass(frozen=True, slots=True)
class NoteStart:
    label: str
    rest: str
    strong: bool  # bracket style: a note even without a URL


def parse_note_start(line: str) -> NoteStart | None:
    """The note a line opens, if it opens one ("[3] Azattyq: https://..." -> "3")."""
    m = _BRACKET_NOTE_RE.match(line)
    if m:
        return NoteStart(str(int(m.group(1))), m.group(2), strong=True)
    m = _WEAK_NOTE_RE.match(line)
    if m:
        raw = m.group(1) or m.group(2) or m.group(3).translate(_SUPER_TO_ASCII)
        return NoteStart(str(int(raw)), m.group(4), strong=False)
    return None


def has_url(text: str) -> bool:
    return "://" in text and bool(find_urls(text))


def remove_spans(block: Block, spans: list[tuple[int, int]]) -> Block:
    """``block`` with the text in ``spans`` (sorted, disjoint) cut out; offsets shifted."""
    if not spans:
        return block

    def shift(pos: int) -> int:
        removed = 0
        for start, end in spans:
            if end <= pos:
                removed += end - start
            elif start < pos:
                removed += pos - start
            else:
                break
        return pos - removed

    pieces: list[str] = []
    last = 0
    for start, end in spans:
        pieces.append(block.text[last:start])
        last = end
    pieces.append(block.text[last:])
    anchors = [
        Anchor(shift(a.offset), url=a.url, note_key=a.note_key, label=a.label)
        for a in block.anchors
    ]
    link_spans = [(shift(s), shift(e)) for s, e in block.link_spans]
    return Block("".join(pieces), anchors, link_spans, block.source)


def strip_markers(block: Block, keys: Mapping[str, str]) -> tuple[Block, list[str]]:
    """Replace "[12]" / "¹²" markers for known notes with note anchors.

    ``keys`` maps a displayed label to its note key. Markers inside URLs or link text are
    left alone. Returns the new block and the labels of bracket markers with no note.
    """
    protected = list(block.link_spans) + [(u.start, u.end) for u in find_urls(block.text)]
    cuts: list[tuple[int, int]] = []
    refs: list[tuple[int, str]] = []
    unknown: list[str] = []
    for m in _MARKER_RE.finditer(block.text):
        if overlaps(m.start(), m.end(), protected):
            continue
        raw = m.group(1) or m.group(2).translate(_SUPER_TO_ASCII)
        label = str(int(raw))
        if label not in keys:
            if m.group(1):
                unknown.append(label)
            continue
        cuts.append((m.start(), m.end()))
        refs.append((m.start(), label))
    if not cuts:
        return block, unknown
    new = remove_spans(block, cuts)
    removed = 0
    for (start, end), (_, label) in zip(cuts, refs, strict=True):
        new.anchors.append(Anchor(start - removed, note_key=keys[label], label=label))
        removed += end - start
    new.anchors.sort(key=lambda a: a.offset)
    return new, unknown


def add_bare_urls(block: Block, vetter: LinkVetter) -> None:
    """Cite every URL written out in ``block.text`` that is not already link text."""
    added = False
    for m in find_urls(block.text):
        if overlaps(m.start, m.end, block.link_spans):
            continue
        if vetter.keep(m.url):
            block.anchors.append(Anchor(m.start, url=m.url))
            added = True
    if added:
        block.anchors.sort(key=lambda a: a.offset)


def note_from_text(key: str, marker: str, text: str, vetter: LinkVetter) -> Note:
    """A note from its text: every URL in it (vetted), and the text without them."""
    urls: list[str] = []
    pieces: list[str] = []
    last = 0
    for m in find_urls(text):
        pieces.append(text[last : m.start])
        last = m.end
        if vetter.keep(m.url) and m.url not in urls:
            urls.append(m.url)
    pieces.append(text[last:])
    return Note(key, marker, urls, note_text(" ".join(pieces)))


def note_from_block(key: str, marker: str | None, block: Block, vetter: LinkVetter) -> Note:
    """A note from parsed content: its link and bare URLs, its text without the URLs."""
    found = [(a.offset, a.url) for a in block.anchors if a.url]
    matches = find_urls(block.text)
    for m in matches:
        if not overlaps(m.start, m.end, block.link_spans) and vetter.keep(m.url):
            found.append((m.start, m.url))
    urls = [url for _, url in sorted(found, key=lambda pair: pair[0])]
    pieces: list[str] = []
    last = 0
    for m in matches:
        pieces.append(block.text[last : m.start])
        last = m.end
    pieces.append(block.text[last:])
    return Note(key, marker, list(dict.fromkeys(urls)), note_text(" ".join(pieces)))


def note_text(text: str) -> str:
    """A note's own words, tidied: collapsed, without dangling separators."""
    return collapse(text).strip(_NOTE_TEXT_TRIM)


def merge_note(notes: dict[str, Note], note: Note, warnings: list[str]) -> None:
    """Add ``note``; a second note with the same label adds its URLs to the first."""
    existing = notes.get(note.key)
    if existing is None:
        notes[note.key] = note
        return
    warnings.append(f"note [{note.marker}] is listed twice; its URLs are merged")
    existing.urls.extend(u for u in note.urls if u not in existing.urls)
    if not existing.text:
        existing.text = note.text


def unknown_marker_warning(labels: Iterable[str]) -> str | None:
    distinct = sorted(set(labels), key=int)
    if not distinct:
        return None
    shown = ", ".join(f"[{label}]" for label in distinct[:10])
    more = f" and {len(distinct) - 10} more" if len(distinct) > 10 else ""
    return f"{len(distinct)} footnote markers have no matching note: {shown}{more}"


def apply_text_notes(parsed: Parsed, vetter: LinkVetter) -> None:
    """Find hand-written numbered notes among ``parsed.blocks`` (for HTML/Markdown/DOCX).

    Used only when the document has no real notes: a block that opens like a note and holds
    a URL becomes a note (its URLs are no longer inline citations), and "[12]" markers in
    the remaining blocks become references to it.
    """
    if parsed.notes:
        return
    notes: dict[str, Note] = {}
    body: list[Block] = []
    for block in parsed.blocks:
        start = parse_note_start(block.text)
        urls = [a.url for a in block.anchors if a.url]
        if start is not None and (urls or start.strong):
            note = note_from_text(start.label, start.label, start.rest, vetter)
            for url in urls:
                if url not in note.urls:
                    note.urls.append(url)
            if note.urls or start.strong:
                merge_note(notes, note, parsed.warnings)
                continue
        body.append(block)
    if not notes:
        return
    keys = {label: label for label in notes}
    unknown: list[str] = []
    blocks: list[Block] = []
    for block in body:
        new, missing = strip_markers(block, keys)
        unknown.extend(missing)
        blocks.append(new)
    parsed.blocks = blocks
    parsed.notes = list(notes.values())
    warning = unknown_marker_warning(unknown)
    if warning:
        parsed.warnings.append(warning)
