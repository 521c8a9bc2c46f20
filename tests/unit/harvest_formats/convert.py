"""Turn a numbered-notes text report into HTML, Markdown, DOCX and PDF, for the tests.

Independent of the harvester: the report is split with its own regular expressions, and
each output is written by hand (the DOCX as raw OOXML parts) or with reportlab (the PDF).
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

REPORTS = Path(__file__).resolve().parents[3].parent / "shared" / "reports"
REPORT_001 = REPORTS / "001_283ad7e3e1991c06.txt"

_NOTE_LINE_RE = re.compile(r"^\[(\d+)\](https?://\S+)\s*$")
_MARKER_RE = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Report:
    title: str
    paragraphs: list[str]  # body paragraphs, markers written "[12]"
    notes: list[tuple[str, str]]  # (number, url), in list order


def split_report(text: str) -> Report:
    """Body paragraphs (non-blank lines before the notes) and the notes list."""
    lines = text.splitlines()
    first_note = next(i for i, line in enumerate(lines) if _NOTE_LINE_RE.match(line))
    paragraphs = [line.strip() for line in lines[:first_note] if line.strip()]
    notes = [m.groups() for line in lines[first_note:] if (m := _NOTE_LINE_RE.match(line))]
    title = next(p for p in paragraphs if p.isupper())
    return Report(title, paragraphs, [(n, u) for n, u in notes])


def load_001() -> Report:
    return split_report(REPORT_001.read_text(encoding="utf-8"))


def _pieces(paragraph: str) -> list[tuple[str, str | None]]:
    """A paragraph as (text, marker) pieces: text then the marker that follows it."""
    out: list[tuple[str, str | None]] = []
    last = 0
    for m in _MARKER_RE.finditer(paragraph):
        out.append((paragraph[last : m.start()], m.group(1)))
        last = m.end()
    out.append((paragraph[last:], None))
    return out


# --- Markdown ------------------------------------------------------------------------


def to_markdown(report: Report) -> str:
    body = [_MARKER_RE.sub(lambda m: f"[^{m.group(1)}]", p) for p in report.paragraphs]
    notes = [f"[^{n}]: {url}" for n, url in report.notes]
    return f"# {report.title}\n\n" + "\n\n".join(body) + "\n\n---\n\n" + "\n".join(notes) + "\n"


# --- HTML ----------------------------------------------------------------------------


def to_html(report: Report, style: str = "sup") -> str:
    """``style`` "sup": <sup><a href="#fn12">12</a></sup> and an <ol> of <li id="fn12">;
    "word": Word's export, <a href="#_ftn12" name="_ftnref12">[12]</a> and
    <div id="ftn12"> notes holding the URL as plain text."""
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.title)}</title></head><body>",
        "<nav><a href='https://example.org/'>Home</a> <a href='/about'>About</a></nav>",
        "<div class='content'>",
    ]
    for paragraph in report.paragraphs:
        parts = []
        for text, marker in _pieces(paragraph):
            parts.append(html.escape(text))
            if marker is None:
                continue
            if style == "sup":
                parts.append(f'<sup><a href="#fn{marker}" id="fnref{marker}">{marker}</a></sup>')
            else:
                parts.append(
                    f'<a style="mso-footnote-id:ftn{marker}" href="#_ftn{marker}"'
                    f' name="_ftnref{marker}" title=""><span class="MsoFootnoteReference">'
                    f"<span style='mso-special-character:footnote'>[{marker}]</span></span></a>"
                )
        out.append(f"<p class='MsoNormal'>{''.join(parts)}</p>")
    out.append("</div>")
    if style == "sup":
        out.append("<section class='footnotes'><hr><ol>")
        for n, url in report.notes:
            href = html.escape(url)
            out.append(
                f'<li id="fn{n}"><p><a href="{href}">{href}</a>'
                f' <a href="#fnref{n}" class="footnote-back">↩</a></p></li>'
            )
        out.append("</ol></section>")
    else:
        out.append("<div style='mso-element:footnote-list'><br clear=all><hr align=left>")
        for n, url in report.notes:
            out.append(
                f"<div style='mso-element:footnote' id=ftn{n}><p class=MsoFootnoteText>"
                f'<a style="mso-footnote-id:ftn{n}" href="#_ftnref{n}" name="_ftn{n}" title="">'
                f"<span class=MsoFootnoteReference>[{n}]</span></a> {html.escape(url)}</p></div>"
            )
        out.append("</div>")
    out.append("<footer><a href='https://example.org/contact'>Contact</a></footer></body></html>")
    return "\n".join(out)


# --- DOCX ----------------------------------------------------------------------------

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
HYPERLINK_TYPE = R_NS + "/hyperlink"
CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
<Override PartName="/word/footnotes.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/>
</Types>"""
ROOT_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{PKG_RELS_NS}">
<Relationship Id="rId1" Type="{R_NS}/officeDocument" Target="word/document.xml"/>
</Relationships>"""


def _rels(entries: list[tuple[str, str, str, bool]]) -> str:
    """Relationships part: (id, type, target, external)."""
    rows = [
        f'<Relationship Id="{rid}" Type="{rtype}" Target="{xml_escape(target, {chr(34): "&quot;"})}"'
        + (' TargetMode="External"' if external else "")
        + "/>"
        for rid, rtype, target, external in entries
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{PKG_RELS_NS}">' + "".join(rows) + "</Relationships>"
    )


def _run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{xml_escape(text)}</w:t></w:r>'


def _wrap_document(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:document xmlns:w="{W_NS}" xmlns:r="{R_NS}"><w:body>{body}'
        '<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>'
    )


def build_docx(
    document_body: str,
    *,
    footnotes: str | None = None,
    document_rels: list[tuple[str, str, str, bool]] | None = None,
    footnote_rels: list[tuple[str, str, str, bool]] | None = None,
    extra_parts: dict[str, str] | None = None,
) -> bytes:
    """A .docx zip from raw WordprocessingML fragments (body XML, w:footnote elements);
    ``extra_parts`` adds further parts verbatim (endnotes, settings, docProps)."""
    rels = list(document_rels or [])
    if footnotes is not None:
        rels.append(("rIdFootnotes", R_NS + "/footnotes", "footnotes.xml", False))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("word/document.xml", _wrap_document(document_body))
        z.writestr("word/_rels/document.xml.rels", _rels(rels))
        if footnotes is not None:
            separators = (
                '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
                "</w:footnote>"
                '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r>'
                "<w:continuationSeparator/></w:r></w:p></w:footnote>"
            )
            z.writestr(
                "word/footnotes.xml",
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<w:footnotes xmlns:w="{W_NS}" xmlns:r="{R_NS}">{separators}{footnotes}'
                "</w:footnotes>",
            )
            z.writestr("word/_rels/footnotes.xml.rels", _rels(list(footnote_rels or [])))
        for part, content in (extra_parts or {}).items():
            z.writestr(part, content)
    return buffer.getvalue()


def to_docx(report: Report) -> bytes:
    """Real Word footnotes. Footnote ids are deliberately not the displayed numbers (and
    footnotes.xml lists them in reverse), so only counting references gives the markers."""
    ids = {n: str(1000 - int(n)) for n, _ in report.notes}
    paragraphs = ['<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr>' + _run(report.title) + "</w:p>"]
    for paragraph in report.paragraphs:
        runs = []
        for text, marker in _pieces(paragraph):
            if text:
                runs.append(_run(text))
            if marker is not None:
                runs.append(
                    '<w:r><w:rPr><w:rStyle w:val="FootnoteReference"/></w:rPr>'
                    f'<w:footnoteReference w:id="{ids[marker]}"/></w:r>'
                )
        paragraphs.append("<w:p>" + "".join(runs) + "</w:p>")
    footnotes = []
    rels = []
    for n, url in reversed(report.notes):
        rid = f"rIdLink{n}"
        rels.append((rid, HYPERLINK_TYPE, url, True))
        footnotes.append(
            f'<w:footnote w:id="{ids[n]}"><w:p><w:pPr><w:pStyle w:val="FootnoteText"/></w:pPr>'
            '<w:r><w:rPr><w:rStyle w:val="FootnoteReference"/></w:rPr><w:footnoteRef/></w:r>'
            '<w:r><w:t xml:space="preserve"> </w:t></w:r>'
            f'<w:hyperlink r:id="{rid}" w:history="1"><w:r><w:rPr><w:rStyle w:val="Hyperlink"/>'
            f"</w:rPr><w:t>{xml_escape(url)}</w:t></w:r></w:hyperlink></w:p></w:footnote>"
        )
    return build_docx("".join(paragraphs), footnotes="".join(footnotes), footnote_rels=rels)


# --- PDF -----------------------------------------------------------------------------


def _latin(text: str) -> str:
    """Helvetica (WinAnsi) cannot show Cyrillic: replace what cp1252 lacks."""
    return text.encode("cp1252", errors="replace").decode("cp1252")


def to_pdf(report: Report, *, frame_width: float = 260) -> bytes:
    """Body paragraphs with superscript markers; notes "12. url" whose URLs are link
    annotations. The narrow frame makes long URLs wrap over several lines."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    buffer = io.BytesIO()
    margin = (A4[0] - frame_width) / 2
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=margin, rightMargin=margin, title=report.title
    )
    style = ParagraphStyle("body", fontName="Helvetica", fontSize=10, leading=12, spaceAfter=8)
    story = [Paragraph(xml_escape(_latin(report.title)), style)]
    for paragraph in report.paragraphs:
        parts = []
        for text, marker in _pieces(paragraph):
            parts.append(xml_escape(_latin(text)))
            if marker is not None:
                parts.append(f"<super>{marker}</super>")
        story.append(Paragraph("".join(parts), style))
    for n, url in report.notes:
        escaped = xml_escape(url, {'"': "&quot;"})
        story.append(Paragraph(f'{n}. <link href="{escaped}">{xml_escape(url)}</link>', style))
    doc.build(story)
    return buffer.getvalue()
