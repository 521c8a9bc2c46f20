"""Acceptance: bad, odd and huge input gives the right HarvestError (or a warning), never
another exception type, always with a one-line message."""

from __future__ import annotations

import io
import random
import time
import zipfile
from collections.abc import Callable

import pytest

from archiver.errors import (
    CorruptDocumentError,
    EmptyReportError,
    HarvestError,
    ReportTooLargeError,
    UnsupportedFormatError,
)
from archiver.harvest import Format, HarvestResult, harvest
from tests.unit.harvest_formats.convert import Report, build_docx, to_pdf

SMALL = Report(
    "A SMALL REPORT",
    [
        f"October {i}, Almaty, activist number {i} was detained by the police[{i}]."
        for i in range(1, 41)
    ],
    [(str(i), f"https://rus.azattyq.org/a/{32064000 + i}.html") for i in range(1, 41)],
)


def _error(data: bytes, **kwargs: object) -> HarvestError:
    with pytest.raises(HarvestError) as info:
        harvest(data, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert message and "\n" not in message
    return info.value


def _canvas_pdf(draw: Callable[[object], None]) -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    draw(page)
    page.showPage()
    page.save()
    return buffer.getvalue()


def test_empty_file() -> None:
    error = _error(b"", filename="report.txt")
    assert isinstance(error, EmptyReportError)
    assert "report.txt" in str(error) and "empty" in str(error)


@pytest.mark.parametrize(
    "data",
    [b"   \n\t\r\n  ", "\u00a0 \n \u3000\n".encode(), "  \n\n".encode("utf-16")],
    ids=["ascii", "unicode-spaces", "utf16-bom"],
)
def test_whitespace_only(data: bytes) -> None:
    assert isinstance(_error(data), EmptyReportError)


def test_random_binary() -> None:
    rng = random.Random(20221031)
    data = bytes(rng.randrange(256) for _ in range(64 * 1024))
    error = _error(data, filename="report.txt")
    assert isinstance(error, UnsupportedFormatError)
    assert "binary" in str(error)


def test_png_header() -> None:
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
    error = _error(data, filename="report.pdf")
    assert isinstance(error, UnsupportedFormatError)
    assert str(error) == "not a report: looks like binary data (PNG image)"


def test_truncated_pdf() -> None:
    """First half of a real PDF: a clear error, or what pypdf could recover plus a warning."""
    data = to_pdf(SMALL)
    half = data[: len(data) // 2]
    try:
        result = harvest(half, filename="report.pdf")
    except HarvestError as error:
        assert isinstance(error, CorruptDocumentError)
        assert "report.pdf" in str(error) and "truncated" in str(error)
        assert "\n" not in str(error)
    else:
        assert any("truncated" in w for w in result.warnings)


def test_slightly_truncated_pdf_is_partly_read() -> None:
    data = to_pdf(SMALL)
    result = harvest(data[: len(data) - len(data) // 10], filename="report.pdf")
    assert any("truncated" in w for w in result.warnings)
    assert result.citations  # the pages that survived still cite


def test_pdf_without_text_layer_or_links() -> None:
    data = _canvas_pdf(lambda c: c.rect(100, 100, 300, 200, fill=1))  # type: ignore[attr-defined]
    error = _error(data, filename="scan.pdf")
    assert isinstance(error, UnsupportedFormatError)
    assert str(error) == "scan.pdf: PDF has no text layer and no links (scanned image?)"


def test_pdf_without_text_layer_but_with_link_annotation() -> None:
    def draw(c: object) -> None:
        c.rect(100, 100, 300, 200, fill=1)  # type: ignore[attr-defined]
        c.linkURL("https://rus.azattyq.org/a/1.html", (100, 100, 400, 300))  # type: ignore[attr-defined]

    result = harvest(_canvas_pdf(draw), filename="scan.pdf")
    assert [(c.marker, c.url, c.context) for c in result.citations] == [
        (None, "https://rus.azattyq.org/a/1.html", "")
    ]
    assert any("no text layer" in w for w in result.warnings)


def test_docx_name_on_plain_text() -> None:
    data = b"The court sentenced him[1].\n\n[1] https://rus.azattyq.org/a/1.html\n"
    result = harvest(data, filename="report.docx")
    assert result.format is Format.TEXT
    assert [(c.marker, c.url) for c in result.citations] == [
        ("1", "https://rus.azattyq.org/a/1.html")
    ]
    assert any("report.docx" in w for w in result.warnings)


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buffer.getvalue()


def test_zip_that_is_not_word() -> None:
    data = _zip({"notes.txt": "hello", "photo.jpg": "x"})
    named = _error(data, filename="report.docx")
    assert isinstance(named, CorruptDocumentError)
    assert str(named) == "report.docx: not a Word document (zip without word/document.xml)"
    anonymous = _error(data)
    assert isinstance(anonymous, UnsupportedFormatError)
    assert "ZIP archive" in str(anonymous)


def test_xlsx_is_named() -> None:
    error = _error(_zip({"xl/workbook.xml": "<workbook/>"}))
    assert isinstance(error, UnsupportedFormatError)
    assert "Excel" in str(error)


def test_damaged_zip() -> None:
    data = build_docx("<w:p><w:r><w:t>hello</w:t></w:r></w:p>")
    error = _error(data[: len(data) // 2], filename="report.docx")
    assert isinstance(error, CorruptDocumentError)


def test_docx_with_broken_xml() -> None:
    data = build_docx("<w:p><w:r><w:t>unclosed</w:r></w:p>")
    error = _error(data, filename="report.docx")
    assert isinstance(error, CorruptDocumentError)
    assert str(error).startswith("report.docx: broken XML in word/document.xml")


def test_docx_with_broken_footnotes_xml() -> None:
    data = build_docx(
        '<w:p><w:r><w:t>x</w:t></w:r><w:r><w:footnoteReference w:id="1"/></w:r></w:p>',
        footnotes='<w:footnote w:id="1"><w:p><w:r><w:t>oops</w:p></w:footnote>',
    )
    error = _error(data, filename="report.docx")
    assert isinstance(error, CorruptDocumentError)
    assert "word/footnotes.xml" in str(error)


@pytest.fixture(scope="module")
def huge() -> bytes:
    return bytes(200 * 1024 * 1024)


def test_200_mb_input_is_refused_before_parsing(huge: bytes) -> None:
    started = time.perf_counter()
    error = _error(huge, filename="big.pdf")
    elapsed = time.perf_counter() - started
    assert isinstance(error, ReportTooLargeError)
    assert str(error) == "big.pdf is 200 MB, over the 50 MB limit (harvest.max_report_bytes)"
    print(f"size check took {elapsed * 1000:.2f} ms")


def test_max_bytes_is_checked_before_anything_else() -> None:
    # Bytes that would be a binary error if parsed: the size check must come first.
    error = _error(b"\x89PNG\r\n\x1a\n" + bytes(5000), max_bytes=1000)
    assert isinstance(error, ReportTooLargeError)
    ok = harvest(b"see https://a.kz/1", max_bytes=18)
    assert len(ok.citations) == 1


def _numbered_report(n: int) -> bytes:
    body = "\n\n".join(
        f"October {i % 28 + 1}, Almaty. Activist number {i} was detained near the akimat[{i}]."
        for i in range(1, n + 1)
    )
    notes = "\n\n".join(f"[{i}] https://example.kz/news/{i}.html" for i in range(1, n + 1))
    return (body + "\n\n" + notes + "\n").encode()


def test_report_with_10000_links() -> None:
    data = _numbered_report(10_000)
    started = time.perf_counter()
    result = harvest(data, filename="big.txt")
    elapsed = time.perf_counter() - started
    print(f"10,000-link report harvested in {elapsed:.2f} s")
    assert len(result.citations) == 10_000
    assert [c.marker for c in result.citations] == [str(i) for i in range(1, 10_001)]
    assert all(c.url == f"https://example.kz/news/{c.marker}.html" for c in result.citations)
    assert all(f"Activist number {c.marker} " in c.context for c in result.citations)


def _check_long_url(result: HarvestResult, url: str) -> None:
    assert all(c.url != url for c in result.citations)
    assert [s.reason for s in result.skipped if s.url == url] == ["too-long"]
    assert any("too-long" in w and len(w) < 300 for w in result.warnings)


def test_10000_character_url() -> None:
    url = "https://example.kz/" + "a" * 10_000
    text = f"The court hearing was filmed[1]. See also {url} here.\n\n[1] {url}\n"
    result = harvest(text.encode())
    _check_long_url(result, url)


def test_10000_character_url_in_html() -> None:
    url = "https://example.kz/" + "b" * 10_000
    page = f"<html><body><p>Filmed <a href='{url}'>here</a>.</p></body></html>"
    _check_long_url(harvest(page.encode()), url)


def test_mixed_encodings() -> None:
    utf8 = "3 октября, Кызылорда. Суд приговорил активиста[1].\n\n".encode()
    cp1251 = "4 октября, Алматы. Задержан журналист[2].\n\n".encode("cp1251")
    notes = b"[1] https://rus.azattyq.org/a/1.html\n[2] https://rus.azattyq.org/a/2.html\n"
    result = harvest(utf8 + cp1251 + notes)
    assert result.encoding == "utf-8"
    assert [(c.marker, c.url) for c in result.citations] == [
        ("1", "https://rus.azattyq.org/a/1.html"),
        ("2", "https://rus.azattyq.org/a/2.html"),
    ]
    assert "Суд приговорил активиста" in result.citations[0].context
    bad = len("Алматы") + len("Задержан") + len("журналист") + len("октября")
    assert any(f"{bad} bytes are not valid UTF-8" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x7fELF\x02\x01\x01" + bytes(100), "ELF executable"),
        (b"\x1f\x8b\x08\x00" + bytes(100), "gzip archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "legacy Office file"),
        (b"GIF89a" + bytes(100), "GIF image"),
        (b"\xff\xd8\xff\xe0" + bytes(100), "JPEG image"),
    ],
)
def test_known_binaries_are_named(data: bytes, kind: str) -> None:
    error = _error(data, filename="report.txt")
    assert isinstance(error, UnsupportedFormatError)
    assert kind in str(error)


def test_garbage_after_pdf_magic() -> None:
    error = _error(b"%PDF-1.7\n" + bytes(range(256)) * 8, filename="x.pdf")
    assert isinstance(error, CorruptDocumentError)


def test_html_without_content() -> None:
    assert isinstance(_error(b"<!DOCTYPE html>", filename="page.html"), EmptyReportError)
    assert harvest(b"<html><body></body></html>").citations == ()


def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        pos = rng.randrange(len(out))
        choice = rng.random()
        if choice < 0.5:
            out[pos] = rng.randrange(256)
        elif choice < 0.75:
            del out[pos : pos + rng.randint(1, 40)]
        else:
            out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(out)


def test_damaged_documents_raise_only_harvest_errors() -> None:
    """Seeded random damage to every format: a result or a HarvestError, nothing else."""
    from tests.unit.harvest_formats.convert import to_docx, to_html, to_markdown

    rng = random.Random(1031)
    seeds = {
        "x.pdf": to_pdf(SMALL),
        "x.docx": to_docx(SMALL),
        "x.html": to_html(SMALL).encode(),
        "x.md": to_markdown(SMALL).encode(),
    }
    outcomes: dict[str, int] = {}
    for name, data in seeds.items():
        for _ in range(25):
            try:
                harvest(_mutate(data, rng), filename=name)
                outcomes["ok"] = outcomes.get("ok", 0) + 1
            except HarvestError as error:
                assert str(error) and "\n" not in str(error)
                kind = type(error).__name__
                outcomes[kind] = outcomes.get(kind, 0) + 1
    assert sum(outcomes.values()) == 100
