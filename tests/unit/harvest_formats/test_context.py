"""Context extraction: the claim a marker or link supports."""

from __future__ import annotations

from archiver.harvest._context import (
    JOINER,
    PARAGRAPH_LIMIT,
    BlockContext,
    collapse,
    context_at,
    sentence_spans,
)

FIRST = "October 5, Almaty, facility LA-155/18, Mamay Zhanbolat, Articles 378 and 274."
FILLER = " ".join(f"The lawyers filed motion number {i} and it was dismissed." for i in range(12))
LAST = "The judge extended the detention until November 12."


def _long_paragraph() -> str:
    paragraph = f"{FIRST} {FILLER} {LAST}"
    assert len(paragraph) > PARAGRAPH_LIMIT
    return paragraph


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_short_paragraph_is_the_whole_context() -> None:
    text = f"{FIRST} The court extended the arrest. {LAST}"
    assert context_at(text, len(text) - 1) == text
    assert context_at(text, 0) == text


def test_long_paragraph_gives_first_and_citing_sentence() -> None:
    text = _long_paragraph()
    assert context_at(text, len(text) - 1) == FIRST + JOINER + LAST


def test_marker_in_first_sentence_of_long_paragraph() -> None:
    text = _long_paragraph()
    assert context_at(text, len(FIRST) - 1) == FIRST


def test_marker_right_after_a_sentence_belongs_to_it() -> None:
    # "...motion number 3 and it was dismissed.[n] The lawyers..." with the marker removed
    text = _long_paragraph()
    sentence = "The lawyers filed motion number 3 and it was dismissed."
    offset = text.index(sentence) + len(sentence)
    assert context_at(text, offset) == FIRST + JOINER + sentence


def test_whitespace_is_collapsed_and_offsets_follow() -> None:
    text = "  Line one\n  goes on\u00a0here.  \n\n" + _long_paragraph().replace(" ", "  ")
    assert context_at("a \n\t b", 2) == "a b"
    result = context_at(text, len(text) - 1)
    assert result.startswith("Line one goes on here.")
    assert result.endswith(LAST)
    assert "  " not in result


def test_abbreviations_and_initials_do_not_end_sentences() -> None:
    text = (
        "Among the detained activists there were Duysebayeva A. and Mirmanbetova G. who came "
        "to the office. Mr. Tokayev spoke at the summit, see Art. 272 and No. 5. Next one."
    )
    assert _sentences(text) == [
        "Among the detained activists there were Duysebayeva A. and Mirmanbetova G. who came "
        "to the office.",
        "Mr. Tokayev spoke at the summit, see Art. 272 and No. 5.",
        "Next one.",
    ]


def test_russian_sentences() -> None:
    text = "Суд по ст. 272 ч. 1 УК РК вынес приговор. «Это произвол», — сказал адвокат. Конец!"
    assert _sentences(text) == [
        "Суд по ст. 272 ч. 1 УК РК вынес приговор.",
        "«Это произвол», — сказал адвокат.",
        "Конец!",
    ]


def test_no_split_without_a_capital_after() -> None:
    assert _sentences("the total was 5.5 million. and then 12.All done") == [
        "the total was 5.5 million. and then 12.All done"
    ]


def test_quoted_sentence_end() -> None:
    assert _sentences('He said "we will appeal." The court left.') == [
        'He said "we will appeal."',
        "The court left.",
    ]


def test_overlong_sentence_is_windowed_around_the_marker() -> None:
    words = [f"word{i}" for i in range(600)]
    text = " ".join(words)  # one sentence, ~5000 characters
    offset = text.index("word300")
    result = context_at(text, offset)
    assert "word300" in result
    assert result.startswith("…") and result.endswith("…")
    assert len(result) < 1000
    assert "word0 " not in result and "word599" not in result


def test_block_context_reuses_its_split() -> None:
    text = _long_paragraph()
    finder = BlockContext(text)
    assert finder.at(len(text) - 1) == context_at(text, len(text) - 1)
    assert finder.at(0) == FIRST


def test_collapse() -> None:
    assert collapse("\u00a0 a\u2003 b\n") == "a b"
