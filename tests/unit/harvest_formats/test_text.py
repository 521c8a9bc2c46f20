"""Plain-text reports: note styles, markers, bare URLs, paragraphs."""

from __future__ import annotations

import pytest

from archiver.harvest import Format, FoundCitation, harvest


def _cite(text: str) -> list[FoundCitation]:
    result = harvest(text.encode())
    assert result.format is Format.TEXT
    return list(result.citations)


def _pairs(text: str) -> list[tuple[str | None, str]]:
    return [(c.marker, c.url) for c in _cite(text)]


BODY = (
    "October 3, Almaty. The activist was detained[1].\n\n"
    "October 4, Astana. The court extended the arrest[2].\n\n"
)


@pytest.mark.parametrize(
    "notes",
    [
        "[1]https://a.kz/1\n[2]https://b.kz/2\n",
        "[1] https://a.kz/1\n\n[2] https://b.kz/2\n",
        "1. https://a.kz/1\n2. https://b.kz/2\n",
        "1) https://a.kz/1\n2) https://b.kz/2\n",
        "(1) https://a.kz/1\n(2) https://b.kz/2\n",
        "¹ https://a.kz/1\n² https://b.kz/2\n",
    ],
    ids=["bracket-glued", "bracket", "dot", "paren", "parens", "superscript"],
)
def test_note_styles(notes: str) -> None:
    citations = _cite(BODY + "Sources:\n" + notes)
    assert [(c.marker, c.url) for c in citations] == [
        ("1", "https://a.kz/1"),
        ("2", "https://b.kz/2"),
    ]
    assert citations[0].context == "October 3, Almaty. The activist was detained."
    assert citations[1].context == "October 4, Astana. The court extended the arrest."


def test_superscript_markers_in_the_body() -> None:
    text = "The activist was detained¹. The court sat².\n\n[1] https://a.kz/1\n[2] https://b.kz/2\n"
    citations = _cite(text)
    assert [(c.marker, c.url) for c in citations] == [
        ("1", "https://a.kz/1"),
        ("2", "https://b.kz/2"),
    ]
    assert citations[0].context == "The activist was detained. The court sat."


def test_note_with_text_before_the_url() -> None:
    text = "He was fined[3].\n\n[3] Azattyq, 4 Oct: https://rus.azattyq.org/a/3.html\n"
    assert _pairs(text) == [("3", "https://rus.azattyq.org/a/3.html")]


def test_note_with_two_urls() -> None:
    text = "The rally was dispersed[7].\n\n[7] https://a.kz/7 and https://b.kz/7, video\n"
    citations = _cite(text)
    assert [(c.marker, c.url, c.position) for c in citations] == [
        ("7", "https://a.kz/7", 0),
        ("7", "https://b.kz/7", 1),
    ]
    assert citations[0].context == citations[1].context == "The rally was dispersed."


def test_note_continued_on_the_next_line() -> None:
    text = "Detained[1].\n\n[1] Radio Azattyq, report of 4 October,\nhttps://a.kz/1\n"
    assert _pairs(text) == [("1", "https://a.kz/1")]


def test_marker_repeated_in_the_body_cites_once() -> None:
    text = (
        "First claim[1].\n\nSecond claim[2].\n\nThird claim repeats the first source[1].\n\n"
        "[1] https://a.kz/1\n[2] https://b.kz/2\n"
    )
    citations = _cite(text)
    assert [(c.marker, c.context) for c in citations] == [
        ("1", "First claim."),
        ("2", "Second claim."),
    ]


def test_order_follows_first_marker_not_note_number() -> None:
    text = "B is cited first[2].\n\nA comes later[1].\n\n[1] https://a.kz/1\n[2] https://b.kz/2\n"
    assert _pairs(text) == [("2", "https://b.kz/2"), ("1", "https://a.kz/1")]


def test_unreferenced_note_comes_last_with_its_own_text() -> None:
    text = (
        "Claim one[1].\n\nClaim two[3].\n\n"
        "[1] https://a.kz/1\n[2] Statement of the lawyer: https://b.kz/2\n[3] https://c.kz/3\n"
    )
    citations = _cite(text)
    assert [(c.marker, c.url, c.context) for c in citations] == [
        ("1", "https://a.kz/1", "Claim one."),
        ("3", "https://c.kz/3", "Claim two."),
        ("2", "https://b.kz/2", "Statement of the lawyer"),
    ]


def test_unreferenced_note_without_text_has_empty_context() -> None:
    assert [(c.marker, c.context) for c in _cite("Intro.\n\n[5] https://a.kz/5\n")] == [("5", "")]


def test_notes_list_does_not_produce_bare_url_duplicates() -> None:
    text = BODY + "[1] https://a.kz/1\n[2] https://b.kz/2\n"
    assert len(_cite(text)) == 2


def test_bare_urls_in_prose() -> None:
    text = (
        "October 9, Almaty. The video (https://youtu.be/abc) shows the arrest; "
        "see also https://a.kz/x.\n\nNo links here."
    )
    citations = _cite(text)
    assert [(c.marker, c.url) for c in citations] == [
        (None, "https://youtu.be/abc"),
        (None, "https://a.kz/x"),
    ]
    assert citations[0].context.startswith("October 9, Almaty. The video (https://youtu.be/abc)")


def test_marker_without_note_is_warned_about() -> None:
    result = harvest(b"Claim[1]. Another[4].\n\n[1] https://a.kz/1\n")
    assert [c.marker for c in result.citations] == ["1"]
    assert any("[4]" in w for w in result.warnings)


def test_brackets_are_not_markers_without_notes() -> None:
    citations = _cite("In [2022] the court met. See https://a.kz/x [1].")
    assert [(c.marker, c.url) for c in citations] == [(None, "https://a.kz/x")]
    assert "[2022]" in citations[0].context


def test_numbered_list_without_urls_stays_body() -> None:
    text = "Demands:\n1. Release the detainees.\n2. Stop the torture[1].\n\n[1] https://a.kz/1\n"
    citations = _cite(text)
    assert [c.marker for c in citations] == ["1"]
    assert "Stop the torture" in citations[0].context


def test_hard_wrapped_paragraphs_are_joined() -> None:
    text = (
        "October 3, Kyzylorda. Baimagambetov Muratbay Alievich stated that since\n"
        "2018 he has been persecuted, subjected to administrative arrest five or six\n"
        "times, and threatened with twelve years in prison if he refused to sign[1].\n"
        "\n"
        "October 4, Taraz. A trial began in the juvenile court in the case of a boy\n"
        "murdered during the January protests, behind closed doors as it concerns\n"
        "a minor, the court said on its website today[2].\n"
        "\n"
        "[1] https://a.kz/1\n"
        "[2] https://b.kz/2\n"
    )
    result = harvest(text.encode())
    assert result.extra["paragraphs"] == "joined"
    first, second = result.citations
    assert first.context.startswith("October 3, Kyzylorda.")
    assert first.context.endswith("if he refused to sign.")
    assert second.context.startswith("October 4, Taraz.")


def test_one_paragraph_per_line() -> None:
    long_line = "October 3, Almaty. " + "The police detained several activists today. " * 5
    text = f"{long_line}[1]\n{long_line}Second[2]\n\n[1] https://a.kz/1\n[2] https://b.kz/2\n"
    result = harvest(text.encode())
    assert result.extra["paragraphs"] == "lines"
    assert not result.citations[0].context.endswith("Second")


def test_non_web_links_are_skipped() -> None:
    result = harvest(b"Write to mailto:info@kibhr.kz or call tel:+77272001122. Site: https://a.kz")
    assert [c.url for c in result.citations] == ["https://a.kz"]
    assert {(s.url, s.reason) for s in result.skipped} == {
        ("mailto:info@kibhr.kz", "scheme:mailto"),
        ("tel:+77272001122", "scheme:tel"),
    }


def test_title_skips_the_skip_link_line() -> None:
    text = 'Нажмите "Enter" для перехода к содержанию\n\nMONITORING REPORT, OCTOBER\n\nText.'
    assert harvest(text.encode()).title == "MONITORING REPORT, OCTOBER"


def test_crlf_and_nbsp_separators() -> None:
    text = (
        "Claim one[1].\r\n\u00a0\r\nClaim two[2].\r\n\r\n[1]https://a.kz/1\r\n[2]https://b.kz/2\r\n"
    )
    assert [(c.marker, c.context) for c in _cite(text)] == [
        ("1", "Claim one."),
        ("2", "Claim two."),
    ]
