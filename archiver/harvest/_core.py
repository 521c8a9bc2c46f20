"""``harvest``: report bytes in, citations out. Pure: no I/O, no global state."""

from __future__ import annotations

from archiver.errors import EmptyReportError, ReportTooLargeError
from archiver.harvest._assemble import assemble, written_skips
from archiver.harvest._detect import detect
from archiver.harvest._docx import parse_docx
from archiver.harvest._html import parse_html
from archiver.harvest._ir import Parsed
from archiver.harvest._links import LinkVetter
from archiver.harvest._markdown import parse_markdown
from archiver.harvest._pdf import parse_pdf
from archiver.harvest._text import parse_text
from archiver.harvest.model import Format, HarvestResult, SkippedLink

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
_MB = 1024 * 1024
_BLANK = b" \t\r\n\x0b\x0c"


def _size(n: int) -> str:
    if n >= _MB:
        return f"{n / _MB:.0f} MB" if n >= 10 * _MB else f"{n / _MB:.1f} MB"
    return f"{n} bytes"


def harvest(
    data: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
    base_url: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> HarvestResult:
    """Every citation in a report, in document order.

    ``data`` is the report's bytes (plain text, Markdown, HTML, PDF or DOCX: detected from
    the content; ``filename`` and ``content_type`` are hints and name the report in
    messages). ``base_url`` resolves relative links of a report fetched from the web.

    Raises only :class:`archiver.errors.HarvestError` subclasses, each with a one-line
    message for an operator: ``ReportTooLargeError`` (checked before anything is parsed),
    ``EmptyReportError``, ``UnsupportedFormatError``, ``CorruptDocumentError``. Problems
    that do not stop the harvest are listed in ``HarvestResult.warnings``.
    """
    name = filename or "report"
    if len(data) > max_bytes:
        raise ReportTooLargeError(
            f"{name} is {_size(len(data))}, over the {_size(max_bytes)} limit"
            " (harvest.max_report_bytes)"
        )
    if not data.strip(_BLANK):
        raise EmptyReportError(f"{name} is empty")
    detected = detect(data, name, filename, content_type)
    vetter = LinkVetter(base_url)
    encoding: str | None = None
    text = ""
    if detected.decoded is not None:
        text = detected.decoded.text.lstrip("\ufeff")
        encoding = detected.decoded.encoding
        if not text.strip():
            raise EmptyReportError(f"{name} is empty")
    parsed: Parsed
    if detected.format is Format.PDF:
        parsed = parse_pdf(data, name, vetter)
    elif detected.format is Format.DOCX:
        parsed = parse_docx(data, name, vetter)
    elif detected.format is Format.HTML:
        parsed = parse_html(text, name, vetter)
    elif detected.format is Format.MARKDOWN:
        parsed = parse_markdown(text, vetter)
    else:
        parsed = parse_text(text, vetter)
    citations, assembly_warnings = assemble(parsed, vetter)
    skipped = _dedupe(vetter.skipped + parsed.skipped + written_skips(parsed))
    warnings = [*detected.warnings, *parsed.warnings, *vetter.warnings, *assembly_warnings]
    if not citations:
        # Stored anyway (its bytes are kept), but a report that cites nothing the
        # archiver can capture is usually the wrong file, or one whose links were lost.
        warnings.append(
            "no links found: the report cites nothing to capture"
            + (f" ({len(skipped)} links skipped)" if skipped else "")
        )
    return HarvestResult(
        format=detected.format,
        title=parsed.title,
        citations=tuple(citations),
        skipped=tuple(skipped),
        warnings=tuple(dict.fromkeys(warnings)),
        encoding=encoding,
        extra=dict(parsed.extra),
    )


def _dedupe(skipped: list[SkippedLink]) -> list[SkippedLink]:
    return list(dict.fromkeys(skipped))
