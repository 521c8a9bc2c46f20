"""Markdown reports: footnotes, inline and reference-style links, autolinks, bare URLs.

* ``[^12]`` in the body refers to the footnote defined by ``[^12]: ...`` (continuation
  lines indented or following directly); the marker is the label as written ("12").
* ``[text](url)``, ``![alt](url)``, ``<https://...>`` and ``[text][id]`` / ``[id][]`` with
  ``[id]: url`` are inline citations (marker None) at the link text.
* A numeric shortcut reference ``[12]`` with a definition ``[12]: url`` is a footnote in
  all but name, and is treated as one (marker "12").
* Definitions nothing refers to are still cited, after the body (numeric ones with their
  number as marker).
* With neither footnotes nor numeric definitions, hand-written "[12]" notes are looked for
  as in plain text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archiver.harvest._context import collapse
from archiver.harvest._ir import Anchor, Block, Note, Parsed
from archiver.harvest._links import LinkVetter
from archiver.harvest._notes import add_bare_urls, apply_text_notes, note_from_block
from archiver.harvest._text import split_lines

_FOOTNOTE_DEF_RE = re.compile(r"^ {0,3}\[\^([^\]\s]+)\]:[ \t]?(.*)$")
_REF_DEF_RE = re.compile(
    r"""^ {0,3}\[([^\]\n]+)\]:[ \t]*(<[^>\n]*>|\S+)(?:[ \t]+(?:"[^"]*"|'[^']*'|\([^)]*\)))?[ \t]*$"""
)
_HEADING_RE = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_SETEXT_RE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_RULE_RE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_ITEM_RE = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+")
_QUOTE_RE = re.compile(r"^ {0,3}>[ \t]?")
_FENCE_RE = re.compile(r"^ {0,3}(```|~~~)")
_INLINE_RE = re.compile(
    r"""
    (?P<esc>\\[\\`*_{}\[\]()#+\-.!<>|])
  | \[\^(?P<fn>[^\]\s]+)\]
  | (?P<img>!)?\[(?P<text>(?:[^\[\]\\\n]|\\.|\[[^\[\]\n]*\])*)\]
    (?:
      \(\s*(?P<dest><[^>\n]*>|(?:[^()\s]|\([^()\s]*\))*)
        (?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)
    | \[(?P<ref>[^\]\n]*)\]
    )?
  | <(?P<auto>(?:https?|mailto|tel):[^>\s]+)>
  | (?P<strong>\*\*|`)
    """,
    re.X,
)


def _label(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(slots=True)
class _Defs:
    footnotes: dict[str, str]  # label -> raw text
    refs: dict[str, str]  # normalized label -> destination
    ref_labels: dict[str, str]  # normalized label -> label as written
    used_refs: set[str]


class _Inline:
    """Markdown inline syntax to display text plus anchors, for one block."""

    def __init__(self, defs: _Defs, vetter: LinkVetter, base: str | None) -> None:
        self.defs = defs
        self.vetter = vetter
        self.base = base

    def _link(self, dest: str) -> str | None:
        dest = dest.strip()
        if dest.startswith("<") and dest.endswith(">"):
            dest = dest[1:-1]
        return self.vetter.resolve(dest, self.base)

    def block(self, raw: str) -> Block:
        out: list[str] = []
        size = 0
        block = Block("")
        last = 0
        for m in _INLINE_RE.finditer(raw):
            piece = raw[last : m.start()]
            out.append(piece)
            size += len(piece)
            last = m.end()
            shown, url, note, is_link = self._token(m)
            if note is not None:
                key, marker = note
                block.anchors.append(Anchor(size, note_key=key, label=marker))
            if url is not None:
                block.anchors.append(Anchor(size, url=url))
            if is_link:
                block.link_spans.append((size, size + len(shown)))
            out.append(shown)
            size += len(shown)
        out.append(raw[last:])
        block.text = "".join(out)
        return block

    def _token(self, m: re.Match[str]) -> tuple[str, str | None, tuple[str, str] | None, bool]:
        """(display text, cited URL, (note key, marker), is link text) for one token."""
        if m.group("esc"):
            return m.group("esc")[1], None, None, False
        if m.group("strong"):
            return "", None, None, False
        if m.group("fn") is not None:
            label = m.group("fn")
            if label in self.defs.footnotes:
                return "", None, ("fn:" + label, label), False
            return m.group(0), None, None, False
        if m.group("auto"):
            url = m.group("auto")
            return url, self._link(url), None, True
        text = m.group("text")
        shown = text.replace("**", "")
        if m.group("dest") is not None:
            return shown, self._link(m.group("dest")), None, True
        ref = m.group("ref")
        label = _label(ref if ref else text)
        if label in self.defs.refs:
            self.defs.used_refs.add(label)
            if ref is None and not m.group("img") and text.strip().isdigit():
                return "", None, ("ref:" + label, str(int(text))), False
            return shown, self._link(self.defs.refs[label]), None, True
        return m.group(0), None, None, False


def _split_blocks(lines: list[str]) -> tuple[list[str], _Defs, str | None]:
    """Body blocks (raw Markdown), the definitions, and the title."""
    defs = _Defs({}, {}, {}, set())
    blocks: list[str] = []
    current: list[str] = []
    title: str | None = None
    h1: str | None = None
    fenced = False

    def flush() -> None:
        if current:
            blocks.append("\n".join(current))
            current.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE_RE.match(line):
            fenced = not fenced
            flush()
            i += 1
            continue
        if fenced:
            current.append(line)
            i += 1
            continue
        fn = _FOOTNOTE_DEF_RE.match(line)
        if fn:
            flush()
            body = [fn.group(2)]
            i += 1
            while i < len(lines):
                nxt = lines[i]
                if nxt.strip() and not _FOOTNOTE_DEF_RE.match(nxt) and not _HEADING_RE.match(nxt):
                    body.append(nxt.strip())
                elif (
                    not nxt.strip()
                    and i + 1 < len(lines)
                    and lines[i + 1].startswith(("    ", "\t"))
                ):
                    body.append("")
                else:
                    break
                i += 1
            defs.footnotes.setdefault(fn.group(1), "\n".join(body))
            continue
        ref = _REF_DEF_RE.match(line)
        if ref and not current:
            label = _label(ref.group(1))
            defs.refs.setdefault(label, ref.group(2))
            defs.ref_labels.setdefault(label, ref.group(1).strip())
            i += 1
            continue
        heading = _HEADING_RE.match(line)
        if heading:
            flush()
            blocks.append(heading.group(2))
            if heading.group(1) == "#" and h1 is None:
                h1 = heading.group(2)
            title = title or heading.group(2)
            i += 1
            continue
        if not line.strip() or _RULE_RE.match(line):
            flush()
        elif _SETEXT_RE.match(line) and current:
            flush()
            if title is None:
                title = blocks[-1]
        else:
            if _ITEM_RE.match(line):
                flush()
                line = _ITEM_RE.sub("", line, count=1)
            line = _QUOTE_RE.sub("", line)
            current.append(line.strip())
        i += 1
    flush()
    return blocks, defs, h1 or title


def parse_markdown(text: str, vetter: LinkVetter) -> Parsed:
    lines = split_lines(text)
    raw_blocks, defs, title = _split_blocks(lines)
    inline = _Inline(defs, vetter, vetter.base_url)
    parsed = Parsed(title=title or None)
    for raw in raw_blocks:
        block = inline.block(raw)
        if block.text.strip():
            parsed.blocks.append(block)
    referenced = {a.note_key for b in parsed.blocks for a in b.anchors if a.note_key}
    notes: list[Note] = []
    for label, raw in defs.footnotes.items():
        block = inline.block(raw)
        notes.append(note_from_block("fn:" + label, label, block, vetter))
    for label, dest in defs.refs.items():
        key = "ref:" + label
        if key in referenced or label not in defs.used_refs:
            url = inline._link(dest)
            shown = defs.ref_labels[label]
            marker = str(int(shown)) if shown.isdigit() else None
            notes.append(Note(key, marker, [url] if url else [], ""))
    parsed.notes = notes
    apply_text_notes(parsed, vetter)
    for block in parsed.blocks:
        add_bare_urls(block, vetter)
    if parsed.title is None:
        first = next((collapse(b.text) for b in parsed.blocks if b.text.strip()), "")
        parsed.title = first if 0 < len(first) <= 200 else None
    return parsed
