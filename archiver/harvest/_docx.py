"""Word (.docx) reports, read from the OOXML parts with lxml (python-docx has no footnotes).

* Body paragraphs (tables and text boxes included) in document order.
* Links: ``w:hyperlink`` with an external relationship target; ``HYPERLINK`` field codes
  (complex ``w:fldChar``/``w:instrText`` fields and ``w:fldSimple``); URLs typed as text.
* Real footnotes and endnotes: ``w:footnoteReference w:id`` in the body refers to the
  ``w:footnote`` with that id in ``word/footnotes.xml``; the marker is the number Word shows,
  counted in order of the references in the body (separator notes excluded), in the
  document's number format (decimal for footnotes; lower-case roman for endnotes unless
  the settings say otherwise). Links in notes come from the notes part's own relationships.
* With no real notes, hand-written "[12]" notes are looked for as in plain text.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import lxml.etree  # type: ignore[import-untyped]

from archiver.errors import CorruptDocumentError, UnsupportedFormatError
from archiver.harvest._context import collapse
from archiver.harvest._detect import ZIP_ERRORS
from archiver.harvest._ir import Anchor, Block, Parsed
from archiver.harvest._links import LinkVetter
from archiver.harvest._notes import add_bare_urls, apply_text_notes, note_from_block

_PART_LIMIT = 512 * 1024 * 1024
_NAMESPACES = {
    "transitional": (
        "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    ),
    "strict": (
        "http://purl.oclc.org/ooxml/wordprocessingml/main",
        "http://purl.oclc.org/ooxml/officeDocument/relationships",
    ),
}
_PKG_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_SEPARATOR_TYPES = frozenset(("separator", "continuationSeparator", "continuationNotice"))
_HYPERLINK_RE = re.compile(r'^\s*HYPERLINK\s+(?:"([^"]*)"|(\S+))?(.*)$', re.S)
_TRUE = frozenset(("1", "true", "on"))


def _xml_parser() -> Any:
    return lxml.etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True
    )


def _roman(n: int) -> str:
    out = []
    for value, numeral in (
        (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
        (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
    ):  # fmt: skip
        while n >= value:
            out.append(numeral)
            n -= value
    return "".join(out)


def format_number(n: int, fmt: str) -> str:
    """A note number as Word displays it in number format ``fmt`` (w:numFmt)."""
    if fmt == "lowerRoman":
        return _roman(n)
    if fmt == "upperRoman":
        return _roman(n).upper()
    if fmt in ("lowerLetter", "upperLetter"):
        letter = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letter if fmt == "lowerLetter" else letter.upper()
    if fmt == "chicago":
        return "*†‡§"[(n - 1) % 4] * ((n - 1) // 4 + 1)
    return str(n)


@dataclass(slots=True)
class _Field:
    instr: str = ""
    result_start: int | None = None


@dataclass(slots=True)
class _Kind:
    """Footnotes or endnotes: how their references are numbered and shown."""

    name: str
    fmt: str
    start: int
    labels: dict[str, str] = field(default_factory=dict)  # w:id -> marker
    numbered: int = 0  # custom marks ("*") do not count

    def label_for(self, note_id: str) -> str:
        if note_id not in self.labels:
            self.labels[note_id] = format_number(self.start + self.numbered, self.fmt)
            self.numbered += 1
        return self.labels[note_id]


class _Package:
    def __init__(self, data: bytes, name: str) -> None:
        self.name = name
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            self.names = set(self.zip.namelist())
        except ZIP_ERRORS as exc:
            raise CorruptDocumentError(f"{name}: damaged Word document ({exc})") from exc

    def xml(self, part: str) -> Any | None:
        if part not in self.names:
            return None
        try:
            info = self.zip.getinfo(part)
            if info.file_size > _PART_LIMIT:
                raise CorruptDocumentError(
                    f"{self.name}: {part} expands to {info.file_size // (1024 * 1024)} MB"
                    " (zip bomb?)"
                )
            raw = self.zip.read(part)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError) as exc:
            raise CorruptDocumentError(f"{self.name}: damaged Word document ({exc})") from exc
        except (NotImplementedError, RuntimeError) as exc:
            raise UnsupportedFormatError(f"{self.name}: unreadable part {part} ({exc})") from exc
        try:
            return lxml.etree.fromstring(raw, _xml_parser())
        except lxml.etree.XMLSyntaxError as exc:
            raise CorruptDocumentError(
                f"{self.name}: broken XML in {part} ({collapse(str(exc))})"
            ) from exc

    def rels(self, part: str) -> dict[str, str]:
        """External relationship targets of ``part`` by id."""
        folder, _, base = part.rpartition("/")
        root = self.xml(f"{folder}/_rels/{base}.rels")
        if root is None:
            return {}
        return {
            rel.get("Id"): rel.get("Target") or ""
            for rel in root.iter(_PKG_RELS)
            if (rel.get("TargetMode") or "").lower() == "external"
        }

    def related(self, part: str, kind: str, default: str) -> str:
        folder, _, base = part.rpartition("/")
        root = self.xml(f"{folder}/_rels/{base}.rels")
        if root is not None:
            for rel in root.iter(_PKG_RELS):
                if (rel.get("Type") or "").endswith("/" + kind):
                    target = (rel.get("Target") or "").lstrip("/")
                    return target if target.startswith(folder + "/") else f"{folder}/{target}"
        return default


class _Reader:
    """Turns ``w:p`` paragraphs into blocks for one part (body, footnotes or endnotes)."""

    def __init__(self, w: str, r: str, rels: dict[str, str], vetter: LinkVetter) -> None:
        self.w = "{" + w + "}"
        self.r_id = "{" + r + "}id"
        self.rels = rels
        self.vetter = vetter
        self.kinds: dict[str, _Kind] = {}
        self.in_body = False

    def _link(self, target: str) -> str | None:
        return self.vetter.resolve(target)

    def paragraphs(self, root: Any) -> Iterator[Any]:
        fallback = "{" + _MC + "}Fallback"
        for p in root.iter(self.w + "p"):
            if not any(a.tag == fallback for a in p.iterancestors()):
                yield p

    def block(self, paragraph: Any) -> Block:
        w = self.w
        block = Block("")
        pieces: list[str] = []
        size = 0
        fields: list[_Field] = []
        links: list[tuple[int, str]] = []  # open w:hyperlink: (start, url)
        skip_text_in: Any = None
        stack: list[tuple[Any, bool]] = [(child, False) for child in reversed(paragraph)]

        def add(text: str) -> None:
            nonlocal size
            if fields and fields[-1].result_start is None:
                return  # inside a field's instruction part
            pieces.append(text)
            size += len(text)

        while stack:
            el, closing = stack.pop()
            tag = el.tag if isinstance(el.tag, str) else ""
            if closing:
                if tag in (w + "hyperlink", w + "fldSimple") and links:
                    start, url = links.pop()
                    if url:
                        block.anchors.append(Anchor(start, url=url))
                    block.link_spans.append((start, size))
                continue
            if tag == w + "t":
                if skip_text_in is None or el.getparent() is not skip_text_in:
                    add(el.text or "")
            elif tag in (w + "tab", w + "ptab"):
                add("\t")
            elif tag in (w + "br", w + "cr"):
                add("\n")
            elif tag == w + "noBreakHyphen":
                add("-")
            elif tag in (w + "del", w + "txbxContent", w + "delText", w + "instrText"):
                if tag == w + "instrText" and fields:
                    fields[-1].instr += el.text or ""
            elif tag == w + "fldChar":
                kind = el.get(w + "fldCharType")
                if kind == "begin":
                    fields.append(_Field())
                elif kind == "separate" and fields:
                    fields[-1].result_start = size
                elif kind == "end" and fields:
                    self._end_field(fields.pop(), size, block)
            elif tag in (w + "footnoteReference", w + "endnoteReference"):
                name = "footnote" if tag == w + "footnoteReference" else "endnote"
                note_id = el.get(w + "id") or ""
                if (el.get(w + "customMarkFollows") or "").lower() in _TRUE:
                    run = el.getparent()
                    label = collapse("".join(t.text or "" for t in run.iter(w + "t")))
                    skip_text_in = run
                    self.kinds[name].labels.setdefault(note_id, label or "*")
                label = self.kinds[name].label_for(note_id)
                block.anchors.append(Anchor(size, note_key=f"{name}:{note_id}", label=label))
            elif tag == w + "hyperlink":
                target = self.rels.get(el.get(self.r_id) or "")
                links.append((size, (self._link(target) or "") if target else ""))
                stack.append((el, True))
                stack.extend((child, False) for child in reversed(el))
            elif tag == w + "fldSimple":
                simple = self._hyperlink_instr(el.get(w + "instr") or "")
                links.append((size, simple or ""))
                stack.append((el, True))
                stack.extend((child, False) for child in reversed(el))
            elif tag.startswith("{" + _MC) and tag.endswith("Fallback"):
                continue
            elif tag != w + "pPr" and tag != w + "rPr":
                stack.extend((child, False) for child in reversed(el))
        block.text = "".join(pieces)
        return block

    def _hyperlink_instr(self, instr: str) -> str | None:
        m = _HYPERLINK_RE.match(instr)
        if m is None:
            return None
        target = m.group(1) if m.group(1) is not None else m.group(2)
        if not target or target.startswith("\\"):
            return None  # "\l bookmark": a link inside the document
        return self._link(target)

    def _end_field(self, fld: _Field, size: int, block: Block) -> None:
        if fld.result_start is None:
            return
        url = self._hyperlink_instr(fld.instr)
        if url:
            block.anchors.append(Anchor(fld.result_start, url=url))
        if _HYPERLINK_RE.match(fld.instr):
            block.link_spans.append((fld.result_start, size))


def _number_format(pkg: _Package, body: Any, w: str, kind: str) -> tuple[str, int]:
    default = "decimal" if kind == "footnote" else "lowerRoman"
    fmt, start = default, 1
    settings = pkg.xml("word/settings.xml")
    sources = [settings] if settings is not None else []
    sect = body.findall(f".//{{{w}}}sectPr") if body is not None else []
    sources += sect[-1:]
    for source in sources:
        pr = source.find(f".//{{{w}}}{kind}Pr")
        if pr is None:
            continue
        num_fmt = pr.find(f"{{{w}}}numFmt")
        if num_fmt is not None and num_fmt.get(f"{{{w}}}val"):
            fmt = num_fmt.get(f"{{{w}}}val")
        num_start = pr.find(f"{{{w}}}numStart")
        if num_start is not None and (num_start.get(f"{{{w}}}val") or "").isdigit():
            start = int(num_start.get(f"{{{w}}}val"))
    return fmt, start


def _title(pkg: _Package, blocks: list[tuple[Any, Block]], w: str) -> str | None:
    core = pkg.xml("docProps/core.xml")
    if core is not None:
        el = core.find(_DC_TITLE)
        if el is not None and collapse(el.text or ""):
            return collapse(el.text or "")
    for p, block in blocks:
        style = p.find(f"{{{w}}}pPr/{{{w}}}pStyle")
        if style is not None and (style.get(f"{{{w}}}val") or "") in ("Title", "Heading1"):
            return collapse(block.text) or None
    for _, block in blocks:
        text = collapse(block.text)
        if text:
            return text if len(text) <= 200 else None
    return None


def parse_docx(data: bytes, name: str, vetter: LinkVetter) -> Parsed:
    pkg = _Package(data, name)
    document = pkg.xml("word/document.xml")
    if document is None:
        raise CorruptDocumentError(f"{name}: not a Word document (zip without word/document.xml)")
    namespace = next(
        (ns for ns in _NAMESPACES.values() if document.tag == f"{{{ns[0]}}}document"), None
    )
    if namespace is None:
        raise CorruptDocumentError(f"{name}: word/document.xml is not a WordprocessingML document")
    w, r = namespace
    body = document.find(f"{{{w}}}body")
    parsed = Parsed()
    reader = _Reader(w, r, pkg.rels("word/document.xml"), vetter)
    for kind in ("footnote", "endnote"):
        fmt, start = _number_format(pkg, body, w, kind)
        reader.kinds[kind] = _Kind(kind, fmt, start)
    pairs: list[tuple[Any, Block]] = []
    if body is not None:
        for p in reader.paragraphs(body):
            block = reader.block(p)
            pairs.append((p, block))
            if block.text.strip() or block.anchors:
                parsed.blocks.append(block)
    for kind in ("footnote", "endnote"):
        part = pkg.related("word/document.xml", f"{kind}s", f"word/{kind}s.xml")
        root = pkg.xml(part)
        if root is None:
            continue
        note_reader = _Reader(w, r, pkg.rels(part), vetter)
        note_reader.kinds = {k: _Kind(k, "decimal", 1) for k in ("footnote", "endnote")}
        labels = reader.kinds[kind].labels
        unreferenced = 0
        for note in root.iter(f"{{{w}}}{kind}"):
            if (note.get(f"{{{w}}}type") or "") in _SEPARATOR_TYPES:
                continue
            note_id = note.get(f"{{{w}}}id") or ""
            merged = Block("")
            for p in note_reader.paragraphs(note):
                block = note_reader.block(p)
                offset = len(merged.text) + (1 if merged.text else 0)
                merged.text += (" " if merged.text else "") + block.text
                merged.anchors += [
                    Anchor(a.offset + offset, url=a.url) for a in block.anchors if a.url
                ]
                merged.link_spans += [(s + offset, e + offset) for s, e in block.link_spans]
            label = labels.get(note_id)
            built = note_from_block(f"{kind}:{note_id}", label, merged, vetter)
            if label is None and built.urls:
                unreferenced += 1
            parsed.notes.append(built)
        if unreferenced:
            parsed.warnings.append(
                f"{name}: {unreferenced} {kind}s with links are not referenced in the text"
            )
    apply_text_notes(parsed, vetter)
    for block in parsed.blocks:
        add_bare_urls(block, vetter)
    parsed.title = _title(pkg, pairs, w)
    return parsed
