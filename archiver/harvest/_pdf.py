"""PDF reports: the text layer, page by page, plus link annotations.

The text of each page is rebuilt from pypdf's text fragments, with their position and
font size, so that:

* superscript footnote numbers (digits in a smaller font than the line around them) become
  "[12]" markers, in the body as at the start of a footnote line;
* paragraphs are cut where the gap between lines is larger than the page's usual line
  spacing;
* a URL wrapped over several lines is joined back, guided by the link annotation over it.

Link annotations (``/Annots`` ``/Link`` with a ``/URI`` action) are authoritative: a URL in
the text that is a wrapped or truncated prefix of the annotation over the same line is
replaced by the annotation's URI, and annotations over text that shows no URL are cited at
that line (within a note, they belong to the note). The lines then go through the plain-text
parser for notes, markers and context.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pypdf
from pypdf.errors import DependencyError

from archiver.errors import CorruptDocumentError, UnsupportedFormatError
from archiver.harvest._context import collapse
from archiver.harvest._ir import Anchor, Block, Parsed
from archiver.harvest._links import LinkVetter
from archiver.harvest._text import parse_lines
from archiver.harvest.urls import find_urls, join_wrapped_url

_SUPER_RATIO = 0.85
_GAP_RATIO = 1.3
_DIGITS_RE = re.compile(r"^\s*(\d{1,5})\s*$")
_TOKEN_RE = re.compile(r"^\S+")
_TRUNCATION = ".…"
_GLUED = tuple(".,;:!?)]»”'\"[…")  # text that follows a URL without a space
_OBJ_RE = re.compile(rb"(?m)^(\d{1,9}) \d{1,5} obj\b")
_TERMINAL = tuple(".!?:;»”\"')]…")
_PAGE_NUMBER_RE = re.compile(
    r"^\W*(?:page|p\.|стр\.?|страница|бет)?\s*\d{1,4}(?:\s*(?:of|/|из)\s*\d{1,4})?\W*$", re.I
)


@dataclass(slots=True)
class _Piece:
    text: str
    y: float
    size: float
    superscript: bool = False


@dataclass(slots=True)
class _Line:
    pieces: list[_Piece] = field(default_factory=list)
    text: str = ""
    y: float = 0.0
    size: float = 0.0


@dataclass(slots=True)
class _Link:
    uri: str
    y0: float
    y1: float
    used: bool = False


def _scale(m: Sequence[float]) -> float:
    return math.sqrt(abs(m[0] * m[3] - m[1] * m[2])) or 1.0


def _page_lines(page: Any) -> list[_Line]:
    """The page's text as lines with baseline and font size, superscripts marked."""
    lines: list[_Line] = [_Line()]

    def visit(text: str, cm: Sequence[float], tm: Sequence[float], _font: Any, size: float) -> None:
        if not text:
            return
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        effective = (size or 1.0) * _scale(tm) * _scale(cm)
        parts = text.split("\n")
        for index, part in enumerate(parts):
            if part:
                lines[-1].pieces.append(_Piece(part, y, effective))
            if index < len(parts) - 1:
                lines.append(_Line())

    page.extract_text(visitor_text=visit)
    lines = [line for line in lines if line.pieces]
    for line in lines:
        reference = max((p.size for p in line.pieces if p.text.strip()), default=0.0)
        for piece in line.pieces:
            piece.superscript = bool(
                reference
                and _DIGITS_RE.match(piece.text)
                and piece.size <= _SUPER_RATIO * reference
            )
    return _merge_raised(lines)


def _merge_raised(lines: list[_Line]) -> list[_Line]:
    """Undo line breaks that a raised superscript caused ("years" / "1" / ". Next")."""
    out: list[_Line] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        only_digits = all(_DIGITS_RE.match(p.text) for p in line.pieces)
        if out and only_digits:
            previous = out[-1]
            base = previous.pieces[-1]
            size = max(p.size for p in line.pieces)
            raised = 0 < line.pieces[0].y - base.y < base.size
            if size <= _SUPER_RATIO * base.size and raised:
                for piece in line.pieces:
                    piece.superscript = True
                previous.pieces.extend(line.pieces)
                nxt = lines[i + 1] if i + 1 < len(lines) else None
                if nxt is not None and abs(nxt.pieces[0].y - base.y) < 0.3 * base.size:
                    previous.pieces.extend(nxt.pieces)
                    i += 1
                i += 1
                continue
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if only_digits and nxt is not None:
            # A footnote's own number, raised above the start of its text (page foot).
            head = nxt.pieces[0]
            size = max(p.size for p in line.pieces)
            if size <= _SUPER_RATIO * head.size and 0 < line.pieces[0].y - head.y < head.size:
                for piece in line.pieces:
                    piece.superscript = True
                nxt.pieces[:0] = line.pieces
                i += 1
                continue
        out.append(line)
        i += 1
    for line in out:
        first = next((p for p in line.pieces if not p.superscript), line.pieces[0])
        line.y, line.size = first.y, first.size
        line.text = "".join(
            f"[{int(p.text)}]" if p.superscript else p.text for p in line.pieces
        ).rstrip()
    return out


def _without_page_numbers(lines: list[_Line]) -> list[_Line]:
    """Drop a page number line ("3", "- 3 -", "Page 3 of 9") at the top or bottom."""
    while lines and _PAGE_NUMBER_RE.match(lines[-1].text):
        lines = lines[:-1]
    while lines and _PAGE_NUMBER_RE.match(lines[0].text):
        lines = lines[1:]
    return lines


def _continues(last: str, first: str) -> bool:
    """Whether a paragraph runs on from one page to the next."""
    return not last.rstrip().endswith(_TERMINAL) or first[:1].islower()


def _annotations(page: Any, vetter: LinkVetter) -> list[_Link]:
    links: list[_Link] = []
    for ref in page.get("/Annots") or []:
        annot = ref.get_object()
        if annot.get("/Subtype") != "/Link":
            continue
        action = annot.get("/A")
        action = action.get_object() if action is not None else None
        if not action or action.get("/S") != "/URI" or action.get("/URI") is None:
            continue
        uri = action["/URI"]
        uri = uri.decode("latin-1") if isinstance(uri, bytes) else str(uri)
        uri = uri.strip()
        rect = [float(v) for v in annot.get("/Rect") or (0, 0, 0, 0)]
        if uri and vetter.keep(uri):
            links.append(_Link(uri, min(rect[1], rect[3]), max(rect[1], rect[3])))
    return links


def _over(link: _Link, line: _Line) -> bool:
    slack = 0.3 * (line.size or 10)
    return link.y0 - slack <= line.y <= link.y1 + slack


def _fix_urls(lines: list[_Line], links: list[_Link]) -> None:
    """Join wrapped URLs and prefer annotation URIs over what the text shows.

    What follows a wrapped URL on its last line ("64219.html[4]. The court...") is moved up
    to the line where the URL starts, so that the line is not mistaken for a new one
    (a line opening with "[4]" would read as a note).
    """
    for i, line in enumerate(lines):
        matches = find_urls(line.text)
        for m in reversed(matches):
            shown = m.url.rstrip(_TRUNCATION)
            over = [k for k in links if _over(k, line)]
            exact = [k for k in over if k.uri == m.url or unquote(k.uri) == m.url]
            after = ""
            if exact:
                uri = exact[0].uri
            else:
                at_end = not line.text[m.end :].strip()
                truncated = shown != m.url or line.text.startswith(("…", "..."), m.end)
                longer = [k for k in over if k.uri.startswith(shown) and len(k.uri) > len(shown)]
                if longer and (at_end or truncated):
                    uri = longer[0].uri
                    if at_end:
                        after = _consume_continuation(lines, i, uri[len(m.url) :])
                elif at_end:
                    rest, after = _guess_continuation(lines, i, m.url)
                    uri = m.url + rest
                else:
                    continue
            for k in links:
                if k.uri == uri:
                    k.used = True
            glue = "" if not after or after[0] in _GLUED else " "
            line.text = line.text[: m.start] + uri + line.text[m.end :] + glue + after
    shown_text = "\n".join(line.text for line in lines)
    for k in links:
        if not k.used and k.uri in shown_text:
            k.used = True  # written out in the text, even if the rectangle is off


def _consume_continuation(lines: list[_Line], i: int, rest: str) -> str:
    """Remove the tail ``rest`` of a wrapped URL from the lines after line ``i``; return
    the text that followed the URL on its last line (now emptied)."""
    j = i + 1
    while rest and j < len(lines):
        text = lines[j].text.lstrip()
        token = _TOKEN_RE.match(text)
        if token is None:
            return ""
        piece = token.group(0)
        if rest.startswith(piece):
            taken = len(piece)
        elif piece.startswith(rest):
            taken = len(rest)  # the URL ends inside the token ("...html." or "...html[3]")
        else:
            return ""
        rest = rest[taken:]
        remainder = text[taken:]
        lines[j].text = ""
        if remainder.strip():
            return remainder.rstrip() if taken < len(piece) else remainder.strip()
        j += 1
    return ""


def _guess_continuation(lines: list[_Line], i: int, url: str) -> tuple[str, str]:
    """Without an annotation: the start of the next line if it is clearly the URL's rest,
    and the text after it (the next line is emptied)."""
    if i + 1 >= len(lines):
        return "", ""
    nxt = lines[i + 1]
    joined = join_wrapped_url(lines[i].text, nxt.text)
    if joined is None or not joined.startswith(url):
        return "", ""
    rest = joined[len(url) :]
    remainder = nxt.text[len(rest) :]
    nxt.text = ""
    return rest, (remainder.rstrip() if remainder[:1] in _GLUED else remainder.strip())


def _read(data: bytes, name: str) -> Any:
    reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:
            unlocked = reader.decrypt("")
        except DependencyError as exc:
            raise UnsupportedFormatError(
                f"{name}: PDF is encrypted with AES; reading it needs the 'cryptography' package"
            ) from exc
        if not unlocked:
            raise UnsupportedFormatError(
                f"{name}: PDF is password-protected; supply an unprotected copy"
            )
    if len(reader.pages) == 0:
        raise CorruptDocumentError(f"{name}: damaged PDF (no readable pages)")
    return reader


def _with_trailer(data: bytes) -> bytes:
    """A truncated PDF with a stand-in trailer, so that pypdf rebuilds the cross-reference
    table by scanning and looks for the catalog among the objects that survived."""
    numbers = [int(n) for n in _OBJ_RE.findall(data)]
    size = max(numbers, default=0) + 1
    return data + b"\ntrailer\n<< /Size %d >>\nstartxref\n0\n%%%%EOF\n" % size


def _open(data: bytes, name: str) -> tuple[Any, list[str]]:
    """The reader, and warnings (a truncated file read as far as it goes)."""
    try:
        return _read(data, name), []
    except (UnsupportedFormatError, CorruptDocumentError):
        if b"%%EOF" in data[-2048:]:
            raise
        first: BaseException | None = None
    except Exception as exc:  # pypdf raises many types on malformed input
        if b"%%EOF" in data[-2048:]:
            raise CorruptDocumentError(f"{name}: damaged PDF ({_reason(exc)})") from exc
        first = exc
    try:
        reader = _read(_with_trailer(data), name)
    except (UnsupportedFormatError, CorruptDocumentError):
        raise
    except Exception as exc:  # noqa: BLE001 - see above; the first error is the one to show
        cause = first or exc
        raise CorruptDocumentError(
            f"{name}: PDF is truncated (no %%EOF at the end) and could not be read"
            f" ({_reason(cause)})"
        ) from cause
    return reader, [f"{name}: PDF is truncated (no %%EOF at the end); read what was left"]


def _reason(exc: BaseException) -> str:
    text = collapse(str(exc)) or type(exc).__name__
    return text if len(text) <= 160 else text[:160] + "…"


def parse_pdf(data: bytes, name: str, vetter: LinkVetter) -> Parsed:
    reader, warnings = _open(data, name)
    texts: list[str] = []
    extra: dict[int, list[str]] = {}
    orphans: list[str] = []
    pages = 0
    for number in range(len(reader.pages)):
        try:
            page = reader.pages[number]
            lines = _page_lines(page)
            links = _annotations(page, vetter)
        except Exception as exc:  # noqa: BLE001 - see _open
            warnings.append(f"{name}: page {number + 1} could not be read ({_reason(exc)})")
            continue
        pages += 1
        lines = _without_page_numbers(lines)
        _fix_urls(lines, links)
        page_texts = _layout(lines, 0)[0]
        if texts and texts[-1] and page_texts and not _continues(texts[-1], page_texts[0]):
            texts.append("")
        _place_links(lines, links, len(texts), extra, orphans)
        texts.extend(page_texts)
    if not any(t.strip() for t in texts):
        if not orphans:
            raise UnsupportedFormatError(
                f"{name}: PDF has no text layer and no links (scanned image?)"
            )
        parsed = Parsed(blocks=[Block("", [Anchor(0, url=u) for u in orphans])])
        parsed.warnings = [
            *warnings,
            f"{name}: PDF has no text layer (scanned image?); only its {len(orphans)}"
            " link annotations were read",
        ]
    else:
        parsed = parse_lines(texts, vetter, joined=True, extra_links=extra)
        parsed.warnings[:0] = warnings
        if orphans:
            parsed.blocks.append(Block("", [Anchor(0, url=u) for u in orphans]))
    parsed.title = _title(reader) or parsed.title
    parsed.extra["pages"] = str(len(reader.pages))
    if pages < len(reader.pages):
        parsed.extra["pages_read"] = str(pages)
    return parsed


def _place_links(
    lines: list[_Line],
    links: list[_Link],
    first: int,
    extra: dict[int, list[str]],
    orphans: list[str],
) -> None:
    """Annotations not shown as text: attach each to the line it covers (or the nearest)."""
    placed: dict[str, int] = {}
    index = _layout(lines, first)[1]
    for link in links:
        if link.used:
            continue
        if not lines:
            if link.uri not in orphans:
                orphans.append(link.uri)
            continue
        middle = (link.y0 + link.y1) / 2
        best = min(range(len(lines)), key=lambda k: abs(lines[k].y - middle))
        if link.uri in placed and abs(placed[link.uri] - best) <= 1:
            placed[link.uri] = best
            continue  # the same link wrapped over two lines
        placed[link.uri] = best
        extra.setdefault(index[best], []).append(link.uri)


def _gaps(lines: list[_Line]) -> list[bool]:
    """For each line, whether a paragraph break comes before it.

    A break is a step down larger than 1.3 times the usual leading. The usual leading is
    the median step, unless that is implausibly large for the font size (a page of
    one-line paragraphs), when 1.2 times the font size is assumed.
    """
    if not lines:
        return []
    steps = [a.y - b.y for a, b in itertools.pairwise(lines)]
    positive = sorted(s for s in steps if s > 0)
    sizes = sorted(line.size for line in lines)
    size = sizes[len(sizes) // 2]
    leading = positive[len(positive) // 2] if positive else 1.2 * size
    if size > 0 and leading > 1.6 * size:
        leading = 1.2 * size
    breaks = [False]
    for step in steps:
        breaks.append(step <= 0 or (leading > 0 and step > _GAP_RATIO * leading))
    return breaks


def _layout(lines: list[_Line], first: int) -> tuple[list[str], list[int]]:
    """The page's output lines (blank line = paragraph break) and, for each input line, its
    index in the whole document's output (lines emptied by URL joining are dropped)."""
    texts: list[str] = []
    indices: list[int] = []
    pending = False
    for line, brk in zip(lines, _gaps(lines), strict=True):
        pending = pending or brk
        if not line.text.strip():
            indices.append(first + max(len(texts) - 1, 0))
            continue
        if pending and texts:
            texts.append("")
        pending = False
        indices.append(first + len(texts))
        texts.append(line.text)
    return texts, indices


def _title(reader: Any) -> str | None:
    try:
        meta = reader.metadata
        title = collapse(str(meta.title)) if meta is not None and meta.title else ""
    except Exception:  # noqa: BLE001 - broken metadata is not worth failing for
        return None
    return title or None
