"""HTML reports and report web pages.

* ``<a href>`` links are inline citations at their link text, resolved against
  ``<base href>`` or the page's URL; without a base, relative links are skipped.
* A footnote marker is a short label link to an element of the page
  (``<sup><a href="#fn12">12</a></sup>``, Word's ``<a href="#_ftn12">[12]</a>``). Its note
  is the block around the target (the ``<li id="fn12">``, Word's ``<div id="ftn12">``);
  the note's links (or URLs written in it) are cited with the marker, and the note itself
  is not read again as body text.
* Page furniture is not read: ``<nav>``, ``<header>``, ``<footer>``, scripts, styles, ARIA
  navigation landmarks, menus/breadcrumbs/share widgets by class; share-intent links.
  When the page has one ``<main>`` (or else one ``<article>``), only it is read.
  Links left out this way are listed as skipped ("navigation", "outside-content").
* URLs written as text (outside ``<a>``) are citations too.
"""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urljoin

import lxml.etree  # type: ignore[import-untyped]
import lxml.html  # type: ignore[import-untyped]

from archiver.errors import CorruptDocumentError, EmptyReportError
from archiver.harvest._context import collapse
from archiver.harvest._ir import Anchor, Block, Parsed
from archiver.harvest._links import LinkVetter, resolve_base
from archiver.harvest._notes import add_bare_urls, apply_text_notes, note_from_block
from archiver.harvest.model import SkippedLink


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_BLOCK_TAGS = _words(
    "p div li ul ol dl dt dd h1 h2 h3 h4 h5 h6 table thead tbody tfoot tr td th caption "
    "blockquote pre section article aside main figure figcaption address details summary "
    "form fieldset hr center body html"
)
_DROP_TAGS = _words(
    "script style noscript template head title iframe svg math object embed canvas select "
    "option button input textarea"
)
_FURNITURE_TAGS = frozenset(("nav", "header", "footer"))
_FURNITURE_ROLES = frozenset(("navigation", "banner", "contentinfo", "search", "menubar"))
_FURNITURE_CLASSES = _words(
    "nav navbar navigation menu main-menu breadcrumb breadcrumbs pagination pager share "
    "sharing share-buttons social-share sharedaddy skip-link screen-reader-text"
)
_NOT_NOTE_TAGS = _words(
    "ol ul dl section body html main article table tbody nav header footer aside"
)
_INLINE_TARGET_TAGS = _words("a span sup sub b strong em i u small font")
_NOTE_CONTAINER_ID_RE = re.compile(r"^_?(?:ftn|edn)\d+$", re.I)
_MARKER_LABEL_RE = re.compile(r"^\[?\(?([0-9]{1,5}|[*†‡§]{1,3}|[ivxlc]{1,6}|[a-z])\)?\]?$", re.I)
_NOTE_FRAGMENT_RE = re.compile(
    r"^(?:_?ftn|_?edn|fn|footnote|endnote|note|cite_note|ref|sdfootnote|sdendnote)", re.I
)
_MARKER_CLASS_RE = re.compile(
    r"footnote|fnref|noteref|msofootnotereference|msoendnotereference", re.I
)
_SHARE_RE = re.compile(
    r"^https?://(?:[a-z0-9-]+\.)*(?:facebook\.com/(?:sharer|share\.php|dialog/share)"
    r"|(?:twitter|x)\.com/(?:intent|share)|t(?:elegram)?\.me/share|vk\.com/share\.php"
    r"|linkedin\.com/(?:shareArticle|sharing)|api\.whatsapp\.com/send|wa\.me/\?"
    r"|reddit\.com/submit|pinterest\.com/pin/create|connect\.ok\.ru/offer"
    r"|getpocket\.com/(?:save|edit))",
    re.I,
)
_PARSER = lxml.html.HTMLParser(huge_tree=True, remove_comments=True, no_network=True)
_DEPTH_LIMIT = 1000
_HREF_RE = re.compile(r"""<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_BACKLINK_RE = re.compile(r"ref|anc|back|return", re.I)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")


def _classes(el: Any) -> set[str]:
    return set((el.get("class") or "").lower().split()) | {(el.get("id") or "").lower()}


def _is_furniture(el: Any) -> bool:
    if el.tag in _FURNITURE_TAGS:
        return True
    if (el.get("role") or "").lower() in _FURNITURE_ROLES:
        return True
    return bool(_classes(el) & _FURNITURE_CLASSES) or el.get("hidden") is not None


def _tag(el: Any) -> str | None:
    tag = el.tag
    return tag.lower() if isinstance(tag, str) else None


class _Builder:
    """Accumulates display text and anchors; cuts blocks at block-level elements."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._reset()

    def _reset(self) -> None:
        self.pieces: list[str] = []
        self.size = 0
        self.anchors: list[Anchor] = []
        self.spans: list[tuple[int, int]] = []
        self.after_br = False  # only whitespace since the last <br>

    def text(self, value: str | None) -> None:
        if value:
            self.pieces.append(value)
            self.size += len(value)
            if self.after_br and value.strip():
                self.after_br = False

    def br(self) -> None:
        """A line break; two in a row (only whitespace between) end the paragraph."""
        if self.after_br:
            self.flush()
            return
        self.text("\n")
        self.after_br = True

    def flush(self) -> None:
        text = "".join(self.pieces)
        if text.strip():
            self.blocks.append(Block(text, self.anchors, self.spans))
        self._reset()


class _Page:
    def __init__(self, root: Any, vetter: LinkVetter, base: str | None) -> None:
        self.root = root
        self.vetter = vetter
        self.base = base
        self.skipped: list[SkippedLink] = []
        self.ids: dict[str, Any] = {}
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            for attr in ("id", "name") if el.tag == "a" else ("id",):
                value = el.get(attr)
                if value:
                    self.ids.setdefault(value, el)
        self.markers: dict[Any, tuple[str, Any]] = {}  # <a> -> (label, note element)
        self.note_keys: dict[Any, str] = {}
        self.note_labels: dict[Any, str] = {}

    # --- footnote markers -------------------------------------------------------------

    def find_markers(self, scope: Any) -> None:
        candidates: list[tuple[Any, str, str, Any]] = []  # (a, fragment, label, note)
        for a in scope.iter("a"):
            href = (a.get("href") or "").strip()
            if not href.startswith("#") or len(href) < 2:
                continue
            fragment = unquote(href[1:])
            target = self.ids.get(fragment)
            if target is None:
                continue
            m = _MARKER_LABEL_RE.match(collapse(a.text_content()))
            if m is None:
                continue
            in_sup = (
                any(_tag(p) == "sup" for p in a.iterancestors()) or a.find(".//sup") is not None
            )
            styled = bool(_MARKER_CLASS_RE.search(a.get("class") or "")) or any(
                _MARKER_CLASS_RE.search(s.get("class") or "") for s in a.iter("span")
            )
            if not (in_sup or styled or _NOTE_FRAGMENT_RE.match(fragment)):
                continue
            note = self._note_element(target)
            if note is None or any(p is note for p in a.iterancestors()):
                continue
            raw = m.group(1)
            candidates.append((a, fragment, str(int(raw)) if raw.isdigit() else raw, note))
        notes = {c[3] for c in candidates}
        by_note: dict[Any, list[Any]] = {}
        for a, _, _, note in candidates:
            by_note.setdefault(note, []).append(a)
        for a, fragment, label, note in candidates:
            holder = next((p for p in a.iterancestors() if p in notes), None)
            if holder is not None:
                # A marker inside another note: Word's back-link "[1]" in the footnote
                # (whose own target is the body paragraph) or a note citing a note.
                mutual = any(note in set(o.iterancestors()) for o in by_note[holder])
                if not mutual or _BACKLINK_RE.search(fragment):
                    continue
            self.markers[a] = (label, note)
            if note not in self.note_keys:
                self.note_keys[note] = f"html:{len(self.note_keys)}"
                self.note_labels[note] = label

    def _note_element(self, target: Any) -> Any | None:
        el = target
        while _tag(el) in _INLINE_TARGET_TAGS:
            parent = el.getparent()
            if parent is None:
                return None
            el = parent
        parent = el.getparent()
        if parent is not None and (
            _NOTE_CONTAINER_ID_RE.match(parent.get("id") or "")
            or "mso-element:footnote" in (parent.get("style") or "").replace(" ", "")
            or "mso-element:endnote" in (parent.get("style") or "").replace(" ", "")
        ):
            el = parent
        return None if _tag(el) in _NOT_NOTE_TAGS else el

    # --- walking ----------------------------------------------------------------------

    def _skip_links(self, el: Any, reason: str) -> None:
        for a in el.iter("a"):
            href = (a.get("href") or "").strip()
            if not href or href.startswith("#"):
                continue
            if any(p in self.note_keys for p in a.iterancestors()):
                continue  # in a note reached by a marker: cited with the marker
            try:
                url = urljoin(self.base, href) if self.base else href
            except ValueError:
                continue
            if url.startswith(("http://", "https://")):
                self.skipped.append(SkippedLink(url, reason))

    def walk(self, top: Any, builder: _Builder, *, in_note: bool = False) -> None:
        """Depth-first walk with an explicit stack (pages can nest deeper than recursion)."""
        stack: list[tuple[Any, bool]] = [(top, False)]
        while stack:
            el, closing = stack.pop()
            tag = _tag(el)
            if closing:
                if tag in _BLOCK_TAGS:
                    builder.flush()
                if el is not top:
                    builder.text(el.tail)
                continue
            if tag is None or tag in _DROP_TAGS:
                if el is not top:
                    builder.text(el.tail)
                continue
            if el is not top and el in self.note_keys and not in_note:
                builder.flush()
                builder.text(el.tail)
                continue
            if el is not top and _is_furniture(el):
                if not in_note:
                    self._skip_links(el, "navigation")
                builder.text(el.tail)
                continue
            if tag in _BLOCK_TAGS:
                builder.flush()
            if tag == "br":
                builder.br()
                builder.text(el.tail)
                continue
            if tag == "sup" and not in_note and self._marker_sup(el, builder):
                builder.text(el.tail)
                continue
            if tag == "a" and self._anchor(el, builder, in_note):
                builder.text(el.tail)
                continue
            builder.text(el.text)
            stack.append((el, True))
            stack.extend((child, False) for child in reversed(el))

    def _marker_sup(self, sup: Any, builder: _Builder) -> bool:
        """A ``<sup>`` holding only footnote markers: record them, drop its text."""
        links = [a for a in sup.iter("a") if a in self.markers]
        if not links:
            return False
        for a in links:
            self._add_marker(a, builder)
        return True

    def _add_marker(self, a: Any, builder: _Builder) -> None:
        label, note = self.markers[a]
        builder.anchors.append(Anchor(builder.size, note_key=self.note_keys[note], label=label))

    def _anchor(self, a: Any, builder: _Builder, in_note: bool) -> bool:
        """Handle an ``<a>``; True when its content has been dealt with."""
        if a in self.markers and not in_note:
            self._add_marker(a, builder)
            return True
        href = a.get("href")
        if href is None:
            return False
        if href.strip().startswith("#"):
            return in_note  # a back-link inside a note: drop its "↩" / "[1]"
        resolved = self._resolve(href)
        start = builder.size
        if resolved is not None:
            builder.anchors.append(Anchor(start, url=resolved))
        builder.text(collapse(a.text_content()))
        builder.spans.append((start, builder.size))
        return True

    def _resolve(self, href: str) -> str | None:
        try:
            url = urljoin(self.base, href.strip()) if self.base else href.strip()
        except ValueError:
            url = href
        if _SHARE_RE.match(url):
            self.skipped.append(SkippedLink(url, "navigation"))
            return None
        return self.vetter.resolve(href, self.base)

    def notes(self) -> Iterator[tuple[str, str, Block]]:
        for note, key in self.note_keys.items():
            builder = _Builder()
            self.walk(note, builder, in_note=True)
            builder.flush()
            merged = Block("")
            for block in builder.blocks:
                offset = len(merged.text) + (1 if merged.text else 0)
                merged.text += (" " if merged.text else "") + block.text
                merged.anchors += [
                    Anchor(a.offset + offset, url=a.url) for a in block.anchors if a.url
                ]
                merged.link_spans += [(s + offset, e + offset) for s, e in block.link_spans]
            yield key, self.note_labels[note], merged


def _content_root(body: Any) -> tuple[Any, list[Any]]:
    """The element holding the report (one <main>, else one <article>, else <body>) and
    the parts of the body outside it."""
    for tag in ("main", "article"):
        found = body.findall(f".//{tag}")
        if len(found) == 1:
            ancestors = set(found[0].iterancestors())
            outside = [
                el
                for el in body.iter()
                if el.getparent() in ancestors and el is not found[0] and el not in ancestors
            ]
            return found[0], outside
    return body, []


def parse_html(text: str, name: str, vetter: LinkVetter) -> Parsed:
    text = _XML_DECL_RE.sub("", text, count=1)
    try:
        root = lxml.html.document_fromstring(text, parser=_PARSER)
    except lxml.etree.ParserError as exc:
        if "empty" in str(exc).lower():
            raise EmptyReportError(f"{name} is empty (HTML without content)") from exc
        raise CorruptDocumentError(f"{name}: unreadable HTML ({exc})") from exc
    except (lxml.etree.XMLSyntaxError, ValueError) as exc:
        raise CorruptDocumentError(f"{name}: unreadable HTML ({exc})") from exc
    parsed = Parsed()
    title_el = root.find(".//title")
    title = collapse(title_el.text_content()) if title_el is not None else ""
    if not title:
        h1 = root.find(".//h1")
        title = collapse(h1.text_content()) if h1 is not None else ""
    parsed.title = title or None
    base_el = root.find(".//base[@href]")
    base = resolve_base(base_el.get("href") if base_el is not None else None, vetter.base_url)
    body = root.find("body")
    if body is None:
        body = root
    page = _Page(root, vetter, base)
    content, outside = _content_root(body)
    page.find_markers(content)
    for el in outside:
        if isinstance(el.tag, str):
            page._skip_links(el, "outside-content")
    builder = _Builder()
    page.walk(content, builder)
    builder.flush()
    parsed.blocks = builder.blocks
    for key, label, block in page.notes():
        parsed.notes.append(note_from_block(key, label, block, vetter))
    apply_text_notes(parsed, vetter)
    for block in parsed.blocks:
        add_bare_urls(block, vetter)
    parsed.skipped = list(dict.fromkeys(page.skipped))
    if _max_depth(root) >= _DEPTH_LIMIT:
        _recover_lost_links(text, root, name, parsed, page)
    return parsed


def _max_depth(root: Any) -> int:
    deepest = 0
    for el in root.iter():
        if len(el) == 0:
            deepest = max(deepest, sum(1 for _ in el.iterancestors()))
    return deepest


def _recover_lost_links(text: str, root: Any, name: str, parsed: Parsed, page: _Page) -> None:
    """libxml2 stops building the tree past a fixed nesting depth and drops the rest of the
    page. Links in the dropped part are still cited (without context), with a warning."""
    seen = {a.get("href") for a in root.iter("a")}
    lost = Block("")
    for m in _HREF_RE.finditer(text):
        href = html_module.unescape(m.group(1) or m.group(2) or m.group(3) or "")
        if href in seen:
            continue
        seen.add(href)
        url = page._resolve(href)
        if url is not None:
            lost.anchors.append(Anchor(0, url=url))
    parsed.warnings.append(
        f"{name}: HTML nested deeper than the parser's limit; {len(lost.anchors)} links past"
        " that point are cited without context"
    )
    if lost.anchors:
        parsed.blocks.append(lost)
