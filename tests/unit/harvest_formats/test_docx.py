"""Word documents: hyperlinks, HYPERLINK fields, real footnotes and end-notes."""

from __future__ import annotations

from archiver.harvest import Format, HarvestResult, harvest
from tests.unit.harvest_formats.convert import HYPERLINK_TYPE, R_NS, W_NS, build_docx


def _t(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def _p(*runs: str) -> str:
    return "<w:p>" + "".join(runs) + "</w:p>"


def _ref(note_id: int, kind: str = "footnote") -> str:
    return f'<w:r><w:{kind}Reference w:id="{note_id}"/></w:r>'


def _footnote(note_id: int, *runs: str, kind: str = "footnote") -> str:
    return (
        f'<w:{kind} w:id="{note_id}"><w:p><w:r><w:{kind}Ref/></w:r>'
        + "".join(runs)
        + f"</w:p></w:{kind}>"
    )


def _docx(body: str, **kwargs: object) -> HarvestResult:
    result = harvest(build_docx(body, **kwargs), filename="report.docx")  # type: ignore[arg-type]
    assert result.format is Format.DOCX
    return result


def _triples(result: HarvestResult) -> list[tuple[str | None, str, str]]:
    return [(c.marker, c.url, c.context) for c in result.citations]


def test_hyperlink_with_external_relationship() -> None:
    body = _p(
        _t("See "),
        '<w:hyperlink r:id="rId5" w:history="1">' + _t("the article") + "</w:hyperlink>",
        _t("."),
    )
    result = _docx(body, document_rels=[("rId5", HYPERLINK_TYPE, "https://a.kz/1?x=1&y=2", True)])
    assert _triples(result) == [(None, "https://a.kz/1?x=1&y=2", "See the article.")]


def test_internal_anchor_hyperlink_is_not_cited() -> None:
    body = _p('<w:hyperlink w:anchor="_Toc1">' + _t("Chapter 1") + "</w:hyperlink>")
    assert _docx(body).citations == ()


def test_hyperlink_field_codes() -> None:
    complex_field = (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        '<w:r><w:instrText xml:space="preserve"> HYPERLINK "https://a.kz/f" \\o "tip" </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        + _t("field link")
        + '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )
    simple_field = (
        "<w:fldSimple w:instr=' HYPERLINK \"https://b.kz/s\" '>" + _t("simple") + "</w:fldSimple>"
    )
    bookmark_field = (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        '<w:r><w:instrText> HYPERLINK \\l "_Ref1" </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        + _t("see above")
        + '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )
    body = _p(
        _t("A "), complex_field, _t(", B "), simple_field, _t(", C "), bookmark_field, _t(".")
    )
    context = "A field link, B simple, C see above."
    assert _triples(_docx(body)) == [
        (None, "https://a.kz/f", context),
        (None, "https://b.kz/s", context),
    ]


def test_field_code_text_is_not_shown_as_text() -> None:
    field = (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        '<w:r><w:instrText> HYPERLINK "https://a.kz/f" </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        + _t("https://a.kz/f")
        + '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )
    # the URL shown as the field's result is not cited a second time as a bare URL
    assert [c.url for c in _docx(_p(_t("Link: "), field)).citations] == ["https://a.kz/f"]


def test_footnote_markers_count_references_not_ids() -> None:
    body = _p(_t("First claim"), _ref(7), _t(". Second claim"), _ref(3), _t("."))
    footnotes = _footnote(
        3, _t(" Statement: "), '<w:hyperlink r:id="rL3">' + _t("Azattyq") + "</w:hyperlink>"
    ) + _footnote(7, _t(" https://a.kz/plain-text-url"))
    result = _docx(
        body,
        footnotes=footnotes,
        footnote_rels=[("rL3", HYPERLINK_TYPE, "https://b.kz/3", True)],
    )
    context = "First claim. Second claim."
    assert _triples(result) == [
        ("1", "https://a.kz/plain-text-url", context),
        ("2", "https://b.kz/3", context),
    ]


def test_footnote_with_two_links_and_a_repeated_reference() -> None:
    body = _p(_t("Claim"), _ref(2), _t(".")) + _p(_t("Again"), _ref(2), _t("."))
    footnotes = _footnote(2, _t(" https://a.kz/1 and https://b.kz/2"))
    assert _triples(_docx(body, footnotes=footnotes)) == [
        ("1", "https://a.kz/1", "Claim."),
        ("1", "https://b.kz/2", "Claim."),
    ]


def test_unreferenced_footnote_is_kept_with_a_warning() -> None:
    body = _p(_t("Claim"), _ref(1), _t("."))
    footnotes = _footnote(1, _t(" https://a.kz/1")) + _footnote(9, _t(" Orphan https://b.kz/9"))
    result = _docx(body, footnotes=footnotes)
    assert _triples(result) == [
        ("1", "https://a.kz/1", "Claim."),
        (None, "https://b.kz/9", "Orphan"),
    ]
    assert any("not referenced" in w for w in result.warnings)


def test_custom_footnote_mark() -> None:
    body = _p(
        _t("Claim"),
        '<w:r><w:footnoteReference w:customMarkFollows="1" w:id="4"/><w:t>*</w:t></w:r>',
        _t(". Next"),
        _ref(5),
    )
    footnotes = _footnote(4, _t(" https://a.kz/4")) + _footnote(5, _t(" https://b.kz/5"))
    result = _docx(body, footnotes=footnotes)
    assert [(c.marker, c.url) for c in result.citations] == [
        ("*", "https://a.kz/4"),
        ("1", "https://b.kz/5"),
    ]
    assert result.citations[0].context == "Claim. Next"


def _endnotes(*notes: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:endnotes xmlns:w="{W_NS}" xmlns:r="{R_NS}">'
        '<w:endnote w:type="separator" w:id="-1"><w:p/></w:endnote>'
        + "".join(notes)
        + "</w:endnotes>"
    )


def test_endnotes_are_numbered_in_roman_by_default() -> None:
    body = _p(_t("Claim"), _ref(1, "endnote"), _t(" and"), _ref(2, "endnote"), _t("."))
    parts = {
        "word/endnotes.xml": _endnotes(
            _footnote(1, _t(" https://a.kz/1"), kind="endnote"),
            _footnote(2, _t(" https://b.kz/2"), kind="endnote"),
        )
    }
    rels = [("rIdEnd", R_NS + "/endnotes", "endnotes.xml", False)]
    result = _docx(body, extra_parts=parts, document_rels=rels)
    assert [(c.marker, c.url) for c in result.citations] == [
        ("i", "https://a.kz/1"),
        ("ii", "https://b.kz/2"),
    ]


def test_footnote_number_format_from_settings() -> None:
    settings = (
        f'<w:settings xmlns:w="{W_NS}"><w:footnotePr><w:numFmt w:val="lowerLetter"/>'
        '<w:numStart w:val="3"/></w:footnotePr></w:settings>'
    )
    body = _p(_t("Claim"), _ref(1), _t("."))
    result = _docx(
        body,
        footnotes=_footnote(1, _t(" https://a.kz/1")),
        extra_parts={"word/settings.xml": settings},
    )
    assert [c.marker for c in result.citations] == ["c"]


def test_deleted_text_is_ignored_inserted_text_is_kept() -> None:
    body = _p(
        _t("Kept "),
        '<w:del w:id="1" w:author="x"><w:r><w:delText>https://deleted.kz</w:delText></w:r></w:del>',
        '<w:ins w:id="2" w:author="x">' + _t("https://inserted.kz") + "</w:ins>",
    )
    assert [c.url for c in _docx(body).citations] == ["https://inserted.kz"]


def test_tables_and_text_boxes() -> None:
    table = (
        "<w:tbl><w:tr><w:tc>" + _p(_t("Cell one https://a.kz/cell")) + "</w:tc>"
        "<w:tc>" + _p(_t("Cell two")) + "</w:tc></w:tr></w:tbl>"
    )
    assert _triples(_docx(table)) == [(None, "https://a.kz/cell", "Cell one https://a.kz/cell")]


def test_hand_written_notes_in_paragraphs() -> None:
    body = (
        _p(_t("Claim one[1]."))
        + _p(_t("Claim two[2]."))
        + _p(_t("[1] https://a.kz/1"))
        + _p(_t("[2] "), '<w:hyperlink r:id="rId9">' + _t("Azattyq") + "</w:hyperlink>")
    )
    result = _docx(body, document_rels=[("rId9", HYPERLINK_TYPE, "https://b.kz/2", True)])
    assert _triples(result) == [
        ("1", "https://a.kz/1", "Claim one."),
        ("2", "https://b.kz/2", "Claim two."),
    ]


def test_title_from_core_properties() -> None:
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<dc:title>Monitoring, October 2022</dc:title></cp:coreProperties>"
    )
    result = _docx(_p(_t("Body")), extra_parts={"docProps/core.xml": core})
    assert result.title == "Monitoring, October 2022"


def test_relative_hyperlink_target_is_skipped() -> None:
    body = _p('<w:hyperlink r:id="rId3">' + _t("annex") + "</w:hyperlink>")
    result = _docx(body, document_rels=[("rId3", HYPERLINK_TYPE, "annex.docx", True)])
    assert result.citations == ()
    assert [(s.url, s.reason) for s in result.skipped] == [("annex.docx", "relative")]
