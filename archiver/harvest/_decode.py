"""Bytes to text for the text formats (plain text, Markdown, HTML).

Order: a byte-order mark; a declared charset (HTML meta / Content-Type), if the bytes obey
it; strict UTF-8; UTF-8 with a few bad bytes (a UTF-8 file with pasted legacy text:
decoded with replacement characters and a warning); otherwise a legacy single-byte
encoding chosen among those plausible for Central Asian and Western sources.

charset-normalizer picks the legacy encoding; among the Cyrillic code pages it is easily
confused (KOI8-R read as CP1251 and back), so a letter-frequency score of Russian text
arbitrates between them.
"""

from __future__ import annotations

import codecs
import math
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

# Python codec names.
CYRILLIC = ("cp1251", "koi8_r", "cp866", "iso8859_5", "mac_cyrillic")
WESTERN = ("cp1252", "latin_1")
LEGACY = CYRILLIC + WESTERN

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HIGH = bytes(range(0x80, 0x100))
_REPLACEMENT_UTF8 = "\ufffd".encode()
# Approximate letter frequencies of Russian prose, per cent.
_RU_FREQ = dict(
    zip(
        "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё",
        (
            10.97,
            8.45,
            8.01,
            7.35,
            6.70,
            6.26,
            5.47,
            4.73,
            4.54,
            4.40,
            3.49,
            3.21,
            2.98,
            2.81,
            2.62,
            2.01,
            1.90,
            1.74,
            1.70,
            1.65,
            1.59,
            1.44,
            1.21,
            0.97,
            0.94,
            0.73,
            0.64,
            0.48,
            0.36,
            0.32,
            0.26,
            0.04,
            0.04,
        ),
        strict=True,
    )
)
_CYR_LETTER_RE = re.compile(r"[А-яЁё]")


def canonical_name(encoding: str) -> str:
    """Python's canonical spelling of a codec name ("koi8_r" -> "koi8-r")."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return encoding


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    warnings: tuple[str, ...] = ()


def bom_encoding(data: bytes) -> str | None:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def utf16_without_bom(data: bytes) -> str | None:
    """ "utf-16-le"/"utf-16-be" when ``data`` looks like BOM-less UTF-16 text, else None.

    Mostly-ASCII UTF-16 has a NUL in every other byte; Cyrillic UTF-16 has 0x04 there.
    """
    sample = data[:4096]
    if len(sample) < 4:
        return None
    sample = sample[: len(sample) // 2 * 2]
    even, odd = sample[0::2], sample[1::2]
    half = len(even)
    for zeros, other, name in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        fixed = zeros.count(0) + zeros.count(4)
        if fixed >= 0.7 * half and other.count(0) <= 0.05 * half:
            return name
    return None


def _bad_utf8_bytes(data: bytes, text: str) -> int:
    """Bytes of ``data`` that were not valid UTF-8 in its lenient decoding ``text``."""
    inserted = text.count("\ufffd") - data.count(_REPLACEMENT_UTF8)
    return len(data) - (len(text.encode("utf-8")) - 3 * inserted)


def russian_score(text: str) -> float:
    """How much ``text`` reads like Russian: mean log-frequency of its Cyrillic letters,
    with a penalty for capitals inside words (a code-page mix-up swaps case)."""
    letters = 0
    score = 0.0
    previous = " "
    for ch in text:
        if _CYR_LETTER_RE.match(ch):
            letters += 1
            score += math.log(_RU_FREQ.get(ch.lower(), 0.02))
            if ch.isupper() and previous.isalpha() and previous.islower():
                score -= 4.0
        elif ch >= "\x80" and not ch.isalpha():
            score -= 3.0  # box-drawing and symbols where letters should be
        previous = ch
    return score / letters if letters else -math.inf


def _cyrillic_arbiter(data: bytes, picked: str) -> str:
    best, best_score = picked, -math.inf
    for name in CYRILLIC:
        score = russian_score(data[:65536].decode(name, errors="replace"))
        if score > best_score:
            best, best_score = name, score
    return best


def _legacy(data: bytes) -> str:
    match = from_bytes(data, cp_isolation=list(LEGACY)).best()
    picked = match.encoding if match is not None else "cp1251"
    if picked in CYRILLIC:
        picked = _cyrillic_arbiter(data, picked)
    return picked


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_text(data: bytes, declared: str | None = None) -> Decoded:
    """Decode report bytes; never raises for any input."""
    bom = bom_encoding(data)
    if bom is not None:
        codec = "utf-8-sig" if bom == "utf-8" else bom
        text = data.decode(codec, errors="replace")
        if bom != "utf-8":
            text = text.removeprefix("\ufeff")
        return Decoded(text, bom)
    utf16 = utf16_without_bom(data)
    if utf16 is not None:
        return Decoded(data.decode(utf16, errors="replace"), utf16)
    warnings: list[str] = []
    if declared:
        canonical: str | None = None
        try:
            canonical = codecs.lookup(declared).name
        except LookupError:
            warnings.append(f"unknown declared charset {declared!r}; detected instead")
        if canonical is not None:
            declared_text = _strict(data, canonical)
            if declared_text is not None:
                return Decoded(declared_text, canonical)
            if canonical != "utf-8":
                warnings.append(f"declared charset {declared!r} does not fit the bytes")
    strict = _strict(data, "utf-8")
    if strict is not None:
        return Decoded(strict, "utf-8", tuple(warnings))
    lenient = data.decode("utf-8", errors="replace")
    bad = _bad_utf8_bytes(data, lenient)
    high = len(data) - len(data.translate(None, _HIGH))
    if high - bad >= 0.5 * high:
        warnings.append(
            f"{bad} bytes are not valid UTF-8 (mixed encodings?) and were replaced with '\ufffd'"
        )
        return Decoded(lenient, "utf-8", tuple(warnings))
    encoding = _legacy(data)
    text = data.decode(encoding, errors="replace")
    return Decoded(text, canonical_name(encoding), tuple(warnings))
