"""Numbers, dates and names in the main text (archiver.check.figures) and the rule that
makes a page altered when one of them changed, however similar the rest."""

from __future__ import annotations

import pytest

from archiver.check import figures
from archiver.check import text as texts
from archiver.check.classify import Baseline, ClassifyPolicy, ProbeResult, classify
from archiver.check.fields import compare_fields
from tests.integration.check import pages

URL = "https://news.kz/a/1.html"
POLICY = ClassifyPolicy()
STAFF = (
    "The report explores data showing that 67,000 research staff were on fixed-term "
    "contracts, alongside 30,000 contracted teaching staff, many paid by the hour."
)


def pairs(before: str, after: str) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.before, c.after, c.kinds) for c in figures.changes(before, after)]


# -- the pure comparison ---------------------------------------------------------------


def test_a_changed_number_is_quoted_as_written_with_its_context() -> None:
    after = STAFF.replace("67,000", "6,700").replace("30,000", "300")
    assert pairs(STAFF, after) == [
        ("showing that 67,000 research staff", "showing that 6,700 research staff", ("number",)),
        (
            "contracts, alongside 30,000 contracted teaching",
            "contracts, alongside 300 contracted teaching",
            ("number",),
        ),
    ]


def test_nothing_significant_is_no_change() -> None:
    assert figures.changes(STAFF, STAFF) == []
    # Punctuation, case, spacing and ordinary words: the similarity judges those.
    assert figures.changes(STAFF, STAFF.replace("contracts,", "contracts").upper().lower()) == []
    assert figures.changes(STAFF, STAFF.replace("explores", "examines")) == []
    assert figures.changes("The court met.", "A court met.") == []


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        ("Five people were detained.", "Fifty people were detained.", "number"),
        ("Задержаны пять человек.", "Задержаны семь человек.", "number"),
        ("Sentenced to 7 years.", "Sentenced to 7.5 years.", "number"),
        ("The rally on 3 October was dispersed.", "The rally on 3 November was dispersed.", "date"),
        ("Митинг 3 октября разогнали.", "Митинг 3 ноября разогнали.", "date"),
        ("It happened on Monday night.", "It happened on Sunday night.", "date"),
        (
            "The activist Ivan Petrov was detained.",
            "The activist Sergei Petrov was detained.",
            "name",
        ),
        ("Активиста задержали в Алматы.", "Активиста задержали в Астане.", "name"),
        # A sentence's first word is a name when it never appears in lower case.
        ("Chi Onwurah said so. The end.", "John Onwurah said so. The end.", "name"),
    ],
)
def test_numbers_dates_and_names_count(before: str, after: str, kind: str) -> None:
    found = figures.changes(before, after)
    assert [c.kinds for c in found] == [(kind,)], found


def test_added_and_removed_figures_count() -> None:
    before = "Police detained protesters.\nThe court will decide."
    added = "Police detained 40 protesters.\nThe court will decide."
    assert pairs(before, added) == [
        ("Police detained protesters.", "Police detained 40 protesters.", ("number",))
    ]
    assert pairs(added, before) == [
        ("Police detained 40 protesters.", "Police detained protesters.", ("number",))
    ]
    # A new paragraph carrying a figure.
    more = before + "\nTwo more were released on 5 May."
    (change,) = figures.changes(before, more)
    assert change.after == "Two more were released on 5 May." and "number" in change.kinds


def test_swapped_figures_count() -> None:
    before = "Of the detainees, 30 were students and 67 were workers."
    after = "Of the detainees, 67 were students and 30 were workers."
    assert figures.changes(before, after)


def test_relative_times_and_counters_inside_the_text_are_set_aside() -> None:
    before = "Updated 5 minutes ago. Views: 1037. Police detained 40 people.\n2 часа назад, 1 037 просмотров."
    after = "Updated 12 minutes ago. Views: 1 204. Police detained 40 people.\n3 часа назад, 2 100 просмотров."
    assert figures.changes(before, after) == []
    assert figures.changes(before, after.replace("40 people", "4 people"))


def test_context_stays_within_the_paragraph_and_long_stretches_are_cut() -> None:
    before = "First paragraph ends here.\n12 people were detained."
    (change,) = figures.changes(before, before.replace("12", "21"))
    assert change.before == "12 people were" and change.after == "21 people were"
    words = " ".join(f"word{i}" for i in range(60))
    (long,) = figures.changes("Intro text.", f"Intro text. {words} 99.")
    assert "…" in long.after and len(long.after.split()) <= 27


def test_describe_names_the_kinds_and_quotes_the_first_changes() -> None:
    found = figures.changes(STAFF, STAFF.replace("67,000", "6,700").replace("30,000", "300"))
    text = figures.describe(found, shown=1)
    assert text.startswith("numbers changed in the main text: ")
    assert '"showing that 67,000 research staff" -> "showing that 6,700 research staff"' in text
    assert text.endswith("(+1 more)")


# -- the literal form ----------------------------------------------------------------------


def test_literal_form_keeps_figures_and_paragraphs() -> None:
    assert texts.literal("  67\u00a0000  staff\n\n\tOn 3 October ") == "67 000 staff\nOn 3 October"
    seen = texts.extract(pages.article())
    assert seen.article and seen.form == texts.ARTICLE_FORM
    assert "On 3 October the district court" in seen.text and "\n" in seen.text
    assert seen.normalized == texts.normalize(texts.main_text(pages.article()))
    short = texts.extract("<html><body><p>Not found.</p><nav>Home</nav></body></html>")
    assert not short.article and short.form == texts.PAGE_FORM


# -- the rule in classify ------------------------------------------------------------------


def probe(html: str, *, final: str = URL) -> ProbeResult:
    return ProbeResult(URL, final, 200, None, html=html)


def baseline(html: str, *, literal: bool = True) -> Baseline:
    seen = texts.extract(html)
    if not literal:  # as stored before figures counted
        return Baseline("snap-1", seen.normalized, "abc", URL)
    return Baseline("snap-1", seen.normalized, "abc", URL, seen.text, seen.form)


def with_figures(paragraphs: list[str]) -> str:
    return pages.article(
        paragraphs=[p.replace("On 3 October", "On 13 October") for p in paragraphs], noise=4
    )


def test_a_changed_figure_in_the_main_text_is_alteration() -> None:
    base = baseline(pages.article(noise=1))
    verdict = classify(probe(with_figures(pages.PARAGRAPHS)), base, None, None, POLICY)
    assert verdict.signal.implied_state == "altered"
    # The score stays: digits are masked for it, so it says "the same text".
    assert verdict.similarity == 1.0
    assert verdict.details["changes"] == [
        {
            "before": "On 3 October the",
            "after": "On 13 October the",
            "kinds": ["number"],
        }
    ]
    assert verdict.diff[0].startswith("- On 3 October the district court")
    assert verdict.diff[1].startswith("+ On 13 October the district court")
    assert '"On 3 October the" -> "On 13 October the"' in verdict.signal.reason
    # Moved to another address with the figure changed: still the article, altered.
    moved = classify(
        probe(with_figures(pages.PARAGRAPHS), final="https://news.kz/a/1-new.html"),
        base,
        None,
        None,
        POLICY,
    )
    assert moved.signal.implied_state == "altered"


def test_rotating_noise_around_the_main_text_stays_live_with_figures_compared() -> None:
    base = baseline(pages.article(noise=1))
    for noise in range(2, 30, 7):
        verdict = classify(probe(pages.article(noise=noise)), base, None, None, POLICY)
        assert verdict.signal.implied_state == "live", verdict.signal.reason
        assert verdict.details == {"figures_compared": True}


def test_a_rewrite_diff_quotes_the_real_text() -> None:
    base = baseline(pages.article(noise=1))
    verdict = classify(probe(pages.paragraph_rewritten()), base, None, None, POLICY)
    assert verdict.signal.implied_state == "altered" and verdict.similarity is not None
    assert verdict.similarity < POLICY.min_similarity
    assert not any("#" in line or "<date>" in line for line in verdict.diff)


def test_without_a_literal_baseline_figures_are_not_compared_and_it_says_so() -> None:
    old = baseline(pages.article(noise=1), literal=False)
    verdict = classify(probe(with_figures(pages.PARAGRAPHS)), old, None, None, POLICY)
    assert verdict.signal.implied_state == "live"
    assert verdict.details == {"figures_compared": False}
    assert "numbers and names not compared" in verdict.signal.reason
    # A whole-page baseline (no article text found) is not compared figure by figure.
    seen = texts.extract(pages.article(noise=1))
    page_form = Baseline("snap-1", seen.normalized, "abc", URL, seen.text, texts.PAGE_FORM)
    verdict = classify(probe(with_figures(pages.PARAGRAPHS)), page_form, None, None, POLICY)
    assert verdict.signal.implied_state == "live"
    assert "no article text in the baseline" in verdict.signal.reason


def test_a_post_text_quotes_its_changed_figures() -> None:
    verdict = compare_fields(
        "facebook",
        {"text": "Police detained 5 people in Almaty."},
        {"text": "Police detained 50 people in Almaty."},
    )
    assert verdict is not None and verdict.signal.implied_state == "altered"
    assert verdict.details["changes"] == [
        {
            "before": "Police detained 5 people in",
            "after": "Police detained 50 people in",
            "kinds": ["number"],
        }
    ]


def test_the_email_quotes_the_changed_figures() -> None:
    from archiver.check.notify import _mail_text

    change = {"before": "that 67,000 research", "after": "that 6,700 research", "kinds": []}
    event = {"event": "state_change", "from_state": "live", "to_state": "altered"}
    document = {
        "count": 1,
        "generated_at": "2026-01-02T03:04:05Z",
        "events": [{**event, "url": URL, "source_id": 1, "reason": "r", "changes": [change]}],
    }
    assert '    ~ "that 67,000 research" -> "that 6,700 research"\n' in _mail_text(document)
