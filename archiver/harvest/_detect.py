"""What a report is, judged from its bytes; the file name and content type are only hints.

Binary containers are recognised by magic numbers (PDF, DOCX = a ZIP holding
``word/document.xml``); anything else must decode as text, and is then told apart as
HTML, Markdown or plain text by its content. Known non-report binaries (images, archives,
executables) and bytes full of control characters are refused with a message naming what
they look like.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass

from archiver.errors import CorruptDocumentError, UnsupportedFormatError
from archiver.harvest._decode import Decoded, bom_encoding, decode_text, utf16_without_bom
from archiver.harvest.model import Format

# (magic, offset, description) of binaries that are certainly not reports.
_MAGICS: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "PNG image"),
    (b"\xff\xd8\xff", 0, "JPEG image"),
    (b"GIF87a", 0, "GIF image"),
    (b"GIF89a", 0, "GIF image"),
    (b"II*\x00", 0, "TIFF image"),
    (b"MM\x00*", 0, "TIFF image"),
    (b"\x7fELF", 0, "ELF executable"),
    (b"\x1f\x8b", 0, "gzip archive"),
    (b"BZh", 0, "bzip2 archive"),
    (b"\xfd7zXZ\x00", 0, "xz archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "7-Zip archive"),
    (b"Rar!\x1a\x07", 0, "RAR archive"),
    (b"SQLite format 3\x00", 0, "SQLite database"),
    (b"\x00asm", 0, "WebAssembly module"),
    (b"OggS", 0, "Ogg media file"),
    (b"fLaC", 0, "FLAC audio"),
    (b"ID3", 0, "MP3 audio"),
    (b"\x1aE\xdf\xa3", 0, "Matroska/WebM video"),
    (b"ftyp", 4, "MP4/QuickTime video"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "legacy Office file or encrypted Office document"),
)
_RIFF_KINDS = {b"WEBP": "WebP image", b"WAVE": "WAV audio", b"AVI ": "AVI video"}
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OTHER_ZIPS = (
    ("xl/workbook.xml", "an Excel workbook (.xlsx)"),
    ("ppt/presentation.xml", "a PowerPoint presentation (.pptx)"),
    ("META-INF/container.xml", "an EPUB book"),
)
# Control characters that do not occur in text (tab, newlines, form feed, ESC allowed).
_CONTROL = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
_HTML_STRONG_RE = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.I)
_HTML_TAG_RE = re.compile(
    r"</?(?:p|div|a|br|span|table|tr|td|ul|ol|li|h[1-6]|sup|strong|em|b|i|article|section)\b[^>]*>",
    re.I,
)
_META_CHARSET_RE = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I
)
_CT_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:\-]+)", re.I)
_MD_STRONG_RES = (
    re.compile(r"^\[\^[^\]\s]+\]:", re.M),  # footnote definition
    re.compile(r"\[[^\]\n]+\]\((?:https?://|mailto:|/|\.{1,2}/|#)"),  # inline link
    re.compile(r"^ {0,3}\[[^\]\n]+\]:[ \t]*<?https?://", re.M),  # reference definition
    re.compile(r"<https?://[^>\s]+>"),  # autolink
)
_MD_HEADING_RE = re.compile(r"^#{1,6}[ \t]+\S", re.M)
_EXTENSIONS = {
    ".pdf": Format.PDF,
    ".docx": Format.DOCX,
    ".docm": Format.DOCX,
    ".dotx": Format.DOCX,
    ".html": Format.HTML,
    ".htm": Format.HTML,
    ".xhtml": Format.HTML,
    ".md": Format.MARKDOWN,
    ".markdown": Format.MARKDOWN,
    ".txt": Format.TEXT,
    ".text": Format.TEXT,
}
_CONTENT_TYPES = {
    "application/pdf": Format.PDF,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": Format.DOCX,
    "text/html": Format.HTML,
    "application/xhtml+xml": Format.HTML,
    "text/markdown": Format.MARKDOWN,
    "text/x-markdown": Format.MARKDOWN,
    "text/plain": Format.TEXT,
}


@dataclass(frozen=True, slots=True)
class Detected:
    format: Format
    decoded: Decoded | None = None  # for the text formats
    warnings: tuple[str, ...] = ()


def hinted_format(filename: str | None, content_type: str | None) -> Format | None:
    """The format the name or content type claims (content type first), if any."""
    if content_type:
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime in _CONTENT_TYPES:
            return _CONTENT_TYPES[mime]
    if filename:
        lower = filename.lower()
        for ext, fmt in _EXTENSIONS.items():
            if lower.endswith(ext):
                return fmt
    return None


def binary_kind(data: bytes) -> str | None:
    """A description of a known non-report binary, or None."""
    for magic, offset, kind in _MAGICS:
        if data[offset : offset + len(magic)] == magic:
            return kind
    if data[:4] == b"RIFF" and data[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[data[8:12]]
    return None


def looks_binary(data: bytes) -> bool:
    """Control characters (NUL and friends) in more than 1% of the first 64 KiB."""
    sample = data[:65536]
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    return controls > max(1, len(sample) // 100)


# What zipfile raises on a damaged archive (zlib and the OS errors leak through it).
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    OSError,
    EOFError,
    ValueError,
)


def _zip_format(data: bytes, name: str, hint: Format | None) -> Format:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except ZIP_ERRORS as exc:
        what = "Word document" if hint is Format.DOCX else "ZIP archive"
        raise CorruptDocumentError(f"{name}: damaged {what} ({exc})") from exc
    except (NotImplementedError, RuntimeError) as exc:  # unsupported compression, encrypted
        raise UnsupportedFormatError(f"{name}: unreadable ZIP archive ({exc})") from exc
    if "word/document.xml" in names:
        return Format.DOCX
    if hint is Format.DOCX:
        raise CorruptDocumentError(f"{name}: not a Word document (zip without word/document.xml)")
    if mimetype.startswith(b"application/vnd.oasis.opendocument.text"):
        raise UnsupportedFormatError(
            f"{name}: OpenDocument text (.odt) is not supported; save it as .docx or PDF"
        )
    for member, kind in _OTHER_ZIPS:
        if member in names:
            raise UnsupportedFormatError(f"not a report: looks like {kind}")
    raise UnsupportedFormatError("not a report: looks like a ZIP archive")


def declared_charset(data: bytes, content_type: str | None) -> str | None:
    """The charset from the Content-Type parameter, else from an HTML ``<meta>``."""
    if content_type:
        m = _CT_CHARSET_RE.search(content_type)
        if m:
            return m.group(1)
    head = data[:4096]
    if b"<" in head:
        meta = _META_CHARSET_RE.search(head)
        if meta:
            return meta.group(1).decode("ascii")
    return None


def text_format(text: str, hint: Format | None) -> Format:
    """HTML, Markdown or plain text, from decoded content (the hint breaks ties)."""
    head = text[:4096]
    if _HTML_STRONG_RE.search(head):
        return Format.HTML
    stripped = text.lstrip()
    tags = len(_HTML_TAG_RE.findall(text, 0, 65536))
    if (stripped.startswith("<") and tags >= 3) or (hint is Format.HTML and tags >= 1):
        return Format.HTML
    if hint is Format.MARKDOWN:
        return Format.MARKDOWN
    if any(r.search(text) for r in _MD_STRONG_RES):
        return Format.MARKDOWN
    if len(_MD_HEADING_RE.findall(text)) >= 2:
        return Format.MARKDOWN
    return Format.TEXT


def detect(
    data: bytes, name: str, filename: str | None = None, content_type: str | None = None
) -> Detected:
    """Detect the format; decode text formats. Raises for bytes that are not a report."""
    hint = hinted_format(filename, content_type)
    if b"%PDF-" in data[:1024]:
        fmt = Format.PDF
    elif data.startswith(_ZIP_MAGICS):
        fmt = _zip_format(data, name, hint)
    else:
        kind = binary_kind(data)
        if kind is not None:
            raise UnsupportedFormatError(f"not a report: looks like binary data ({kind})")
        if bom_encoding(data) is None and utf16_without_bom(data) is None and looks_binary(data):
            raise UnsupportedFormatError("not a report: looks like binary data")
        declared = declared_charset(data, content_type)
        decoded = decode_text(data, declared)
        fmt = text_format(decoded.text, hint)
        warnings = list(decoded.warnings)
        if hint is not None and hint is not fmt and hint in (Format.PDF, Format.DOCX):
            warnings.append(f"{name} is named or typed as {hint.value}, but it is {fmt.value}")
        return Detected(fmt, decoded, tuple(warnings))
    if hint is not None and hint is not fmt:
        return Detected(
            fmt, None, (f"{name} is named or typed as {hint.value}, but it is {fmt.value}",)
        )
    return Detected(fmt)
