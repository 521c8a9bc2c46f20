"""Decoding report bytes: BOMs, UTF-8, legacy Cyrillic code pages, mixed encodings."""

from __future__ import annotations

import codecs

import pytest

from archiver.harvest import harvest
from archiver.harvest._decode import decode_text, russian_score

RUSSIAN = (
    "3 октября, Кызылорда. Баймагамбетов Муратбай Алиевич, инвалид третьей группы, заявил, "
    "что с 2018 года подвергается преследованиям: его пять или шесть раз подвергали "
    "административному аресту и угрожали, что если он не подпишет процессуальное соглашение, "
    "его посадят на двенадцать лет. Суд по делу активиста Жанболата Мамая продлил срок "
    "содержания под стражей до 12 ноября; все ходатайства защиты отклонены."
)
KAZAKH_NAMES_IN_RUSSIAN = (
    "Активисты Демократической партии Казахстана провели пикет у здания акимата Алматы; "
    "полиция задержала Дуйсебаеву А. и Мирманбетову Г., сообщает Азаттык."
)
FRENCH = "Le tribunal a condamné l'activiste à cinq ans de prison ; la défense fera appel."


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        (codecs.BOM_UTF8 + "Отчёт".encode(), "Отчёт", "utf-8"),
        ("Отчёт".encode("utf-16"), "Отчёт", "utf-16-le"),  # Python writes LE with a BOM
        (codecs.BOM_UTF16_BE + "Отчёт".encode("utf-16-be"), "Отчёт", "utf-16-be"),
        (codecs.BOM_UTF32_LE + "Отчёт".encode("utf-32-le"), "Отчёт", "utf-32-le"),
        ("Report, отчёт[1]".encode("utf-16-le"), "Report, отчёт[1]", "utf-16-le"),
        ("Report, отчёт[1]".encode("utf-16-be"), "Report, отчёт[1]", "utf-16-be"),
        ("Отчёт".encode(), "Отчёт", "utf-8"),
        (b"plain ascii", "plain ascii", "utf-8"),
    ],
)
def test_unicode_encodings(data: bytes, text: str, encoding: str) -> None:
    decoded = decode_text(data)
    assert (decoded.text, decoded.encoding, decoded.warnings) == (text, encoding, ())


@pytest.mark.parametrize("encoding", ["cp1251", "koi8-r", "cp866", "iso8859-5"])
@pytest.mark.parametrize("text", [RUSSIAN, KAZAKH_NAMES_IN_RUSSIAN], ids=["long", "names"])
def test_legacy_cyrillic(text: str, encoding: str) -> None:
    decoded = decode_text(text.encode(encoding))
    assert decoded.text == text
    assert codecs.lookup(decoded.encoding).name == codecs.lookup(encoding).name


@pytest.mark.parametrize("text", ["Суд приговорил активиста к 5 годам.", "Привет, мир! Как дела?"])
@pytest.mark.parametrize("encoding", ["cp1251", "koi8-r"])
def test_short_cyrillic_is_not_confused(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding)).text == text


def test_western_legacy_text() -> None:
    decoded = decode_text(FRENCH.encode("cp1252"))
    assert decoded.text == FRENCH
    assert decoded.encoding in ("cp1252", "iso8859-1")


def test_declared_charset_is_used_when_it_fits() -> None:
    # b"\xd0\xb6" is "ж" in UTF-8 and "Р¶" in cp1251: the declaration decides.
    data = "Р¶".encode("cp1251")
    assert data == "ж".encode()
    assert decode_text(data).text == "ж"
    declared = decode_text(data, "windows-1251")
    assert (declared.text, declared.encoding) == ("Р¶", "cp1251")


def test_declared_charset_that_does_not_fit() -> None:
    decoded = decode_text(RUSSIAN.encode("cp1251"), "utf-8")
    assert decoded.text == RUSSIAN
    decoded = decode_text(RUSSIAN.encode("cp1251"), "nonsense-charset")
    assert decoded.text == RUSSIAN
    assert any("nonsense-charset" in w for w in decoded.warnings)


def _bad_bytes(data: bytes) -> int:
    """Count invalid UTF-8 bytes independently, by decoding step by step."""
    bad = pos = 0
    while pos < len(data):
        try:
            data[pos:].decode("utf-8")
            break
        except UnicodeDecodeError as error:
            bad += error.end - error.start
            pos += error.end
    return bad


def test_mixed_encoding_is_decoded_with_replacement() -> None:
    data = (RUSSIAN + "\n").encode() + "Вставка в cp1251.\n".encode("cp1251") + "Конец.".encode()
    decoded = decode_text(data)
    assert decoded.encoding == "utf-8"
    assert decoded.text.startswith(RUSSIAN)
    assert decoded.text.endswith("Конец.")
    assert "\ufffd" in decoded.text
    assert decoded.warnings == (
        f"{_bad_bytes(data)} bytes are not valid UTF-8 (mixed encodings?) and were replaced"
        " with '\ufffd'",
    )


def test_existing_replacement_characters_are_not_counted_as_bad() -> None:
    data = "Текст с \ufffd внутри".encode() + b"\xff"
    decoded = decode_text(data)
    assert decoded.warnings and decoded.warnings[0].startswith("1 bytes")


def test_russian_score_prefers_the_right_code_page() -> None:
    raw = RUSSIAN.encode("koi8-r")
    right = russian_score(raw.decode("koi8-r"))
    assert right > russian_score(raw.decode("cp1251"))
    assert right > russian_score(raw.decode("cp866", errors="replace"))


def test_html_meta_charset() -> None:
    page = (
        "<html><head><meta http-equiv='Content-Type' content='text/html; charset=windows-1251'>"
        f"<title>Отчёт</title></head><body><p>{RUSSIAN} <a href='https://a.kz/1'>ссылка</a>"
        "</p></body></html>"
    ).encode("cp1251")
    result = harvest(page)
    assert result.encoding == "cp1251"
    assert result.title == "Отчёт"
    assert result.citations[0].context.startswith("3 октября, Кызылорда")


def test_content_type_charset_wins_over_meta() -> None:
    page = "<html><head><meta charset='utf-8'></head><body><p>" + RUSSIAN + "</p></body></html>"
    result = harvest(page.encode("koi8-r"), content_type="text/html; charset=KOI8-R")
    assert result.encoding == "koi8-r"
