"""Format detection: content first, name and content type only as hints."""

from __future__ import annotations

import random

import pytest

from archiver.errors import CorruptDocumentError, UnsupportedFormatError
from archiver.harvest._detect import detect, hinted_format, looks_binary
from archiver.harvest.model import Format
from tests.unit.harvest_formats.convert import REPORT_001, build_docx

DOCX = build_docx("<w:p><w:r><w:t>Hello</w:t></w:r></w:p>")
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
HTML = b"<!DOCTYPE html><html><body><p>Hi <a href='https://a.kz'>a</a></p></body></html>"
MD = b"# Report\n\nText with a footnote[^1].\n\n[^1]: https://a.kz/1\n"
TEXT = b"October 3, Almaty. The court hearing[1].\n\n[1] https://a.kz/1\n"


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "expected"),
    [
        (PDF, None, None, Format.PDF),
        (PDF, "report.txt", "text/plain", Format.PDF),  # the extension lies
        (b"\n\n" + PDF, None, None, Format.PDF),  # junk before the header is tolerated
        (DOCX, None, None, Format.DOCX),
        (DOCX, "report.pdf", "application/pdf", Format.DOCX),
        (HTML, None, None, Format.HTML),
        (HTML, "report.txt", None, Format.HTML),
        (HTML.decode().encode("utf-16"), None, None, Format.HTML),
        (b"<p>One</p><p>Two <b>x</b></p><p>Three</p>", None, None, Format.HTML),
        (b"Price <b>bold</b> text", "page.html", None, Format.HTML),
        (b"Price <b>bold</b> text", None, "text/html; charset=utf-8", Format.HTML),
        (b"1 < 2 and 3 > 2, a plain sentence.", "page.html", None, Format.TEXT),
        (MD, None, None, Format.MARKDOWN),
        (MD, "report.txt", None, Format.MARKDOWN),
        (b"See [the article](https://a.kz/x).", None, None, Format.MARKDOWN),
        (b"Sources\n\n[a]: https://a.kz/x\n", None, None, Format.MARKDOWN),
        (b"Plain text.", "notes.md", None, Format.MARKDOWN),
        (b"Plain text.", None, "text/markdown", Format.MARKDOWN),
        (b"# one heading only, maybe a hashtag", None, None, Format.TEXT),
        (TEXT, None, None, Format.TEXT),
        (TEXT, "report.docx", None, Format.TEXT),
        (TEXT, "report.pdf", "application/pdf", Format.TEXT),
        (REPORT_001.read_bytes(), None, None, Format.TEXT),
    ],
)
def test_detection_table(
    data: bytes, filename: str | None, content_type: str | None, expected: Format
) -> None:
    assert detect(data, "report", filename, content_type).format is expected


def test_extension_lie_is_a_warning() -> None:
    detected = detect(TEXT, "report.pdf", "report.pdf", None)
    assert detected.format is Format.TEXT
    assert detected.warnings == ("report.pdf is named or typed as pdf, but it is text",)
    assert detect(PDF, "x.docx", "x.docx", None).warnings  # PDF named .docx


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(20), "PNG image"),
        (b"\xff\xd8\xff\xdb" + bytes(20), "JPEG image"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP image"),
        (b"\x00\x00\x00\x18ftypmp42" + bytes(20), "MP4"),
        (b"7z\xbc\xaf\x27\x1c" + bytes(20), "7-Zip"),
        (b"SQLite format 3\x00" + bytes(20), "SQLite"),
    ],
)
def test_binary_magic(data: bytes, words: str) -> None:
    with pytest.raises(UnsupportedFormatError, match=words):
        detect(data, "report", None, None)


def test_control_characters_mean_binary() -> None:
    rng = random.Random(7)
    noise = bytes(rng.randrange(256) for _ in range(2000))
    assert looks_binary(noise)
    assert not looks_binary(REPORT_001.read_bytes())
    assert not looks_binary("Текст\tс табуляцией\r\n\x0cи разрывом страницы".encode())
    with pytest.raises(UnsupportedFormatError, match="binary data"):
        detect(noise, "report", None, None)


def test_utf16_text_is_not_binary() -> None:
    data = "Отчёт о преследованиях[1].\n\n[1] https://a.kz/1\n".encode("utf-16-le")
    detected = detect(data, "report", None, None)
    assert detected.format is Format.TEXT
    assert detected.decoded is not None and detected.decoded.encoding == "utf-16-le"


def test_zip_variants() -> None:
    import io
    import zipfile

    def zipped(members: dict[str, bytes]) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            for name, content in members.items():
                z.writestr(name, content)
        return buffer.getvalue()

    odt = zipped({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})
    with pytest.raises(UnsupportedFormatError, match=r"OpenDocument text \(\.odt\)"):
        detect(odt, "r.odt", "r.odt", None)
    with pytest.raises(UnsupportedFormatError, match="PowerPoint"):
        detect(zipped({"ppt/presentation.xml": b"<x/>"}), "r", None, None)
    with pytest.raises(CorruptDocumentError, match="not a Word document"):
        detect(zipped({"a.txt": b"x"}), "r.docx", "r.docx", None)
    with pytest.raises(CorruptDocumentError, match="damaged"):
        detect(b"PK\x03\x04" + bytes(40), "r.docx", "r.docx", None)


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("a.PDF", None, Format.PDF),
        ("a.htm", None, Format.HTML),
        ("a.markdown", None, Format.MARKDOWN),
        ("a.txt", "application/pdf", Format.PDF),  # the content type wins over the name
        (None, "text/html; charset=windows-1251", Format.HTML),
        ("a.bin", "application/octet-stream", None),
        (None, None, None),
    ],
)
def test_hints(filename: str | None, content_type: str | None, expected: Format | None) -> None:
    assert hinted_format(filename, content_type) is expected
