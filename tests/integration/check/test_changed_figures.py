"""Numbers and names count: a real news article (corpus) whose figures are edited becomes
altered, with the old and new figures quoted; the same article with a rotating promotion
block (numbers, a clock, a relative time) outside its main text stays live."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from archiver.app import Archive
from archiver.config import Settings
from archiver.models import Baseline, CheckResult, Snapshot, Source, StateTransition
from archiver.web._queries import stored_diffs
from tests.conftest import FixedClock
from tests.integration.check import pages
from tests.simweb import Request, SimulatedWeb
from tests.support.sinks import Webhook, webhook_server

ARTICLE = "news/theguardian.com.academics.html"
EDITED = "https://www.theguardian.com/education/2020/jan/20/academics-edited"
ROTATING = "https://www.theguardian.com/education/2020/jan/20/academics-rotating"

_PARAGRAPH = re.compile(r"<p\b[^>]*>.*?</p>", re.S)
_TAG = re.compile(r"(<[^>]+>)")
_NUMBER = re.compile(r"\d[\d,]*\d|\d")


def _smaller(match: re.Match[str]) -> str:
    """A figure as an editor might change it: 67,000 -> 6,700, 9 -> 10."""
    value = int(match.group(0).replace(",", ""))
    new = value // 10 if value >= 10 else value + 1
    return f"{new:,}" if "," in match.group(0) else str(new)


def change_figures(html: str, paragraphs: int = 4) -> tuple[str, list[tuple[str, str]]]:
    """``html`` with every number in its ``paragraphs`` longest paragraphs changed (text
    only, never inside a tag); and the (old, new) figures."""
    found = [(m.start(), m.end(), m.group(0)) for m in _PARAGRAPH.finditer(html)]
    longest = sorted(found, key=lambda p: -len(_TAG.sub("", p[2])))[:paragraphs]
    changed: list[tuple[str, str]] = []
    out = html
    for start, end, block in sorted(longest, reverse=True):  # from the end: offsets hold

        def edit(part: str) -> str:
            if part.startswith("<"):
                return part

            def one(match: re.Match[str]) -> str:
                new = _smaller(match)
                changed.append((match.group(0), new))
                return new

            return _NUMBER.sub(one, part)

        out = out[:start] + "".join(edit(p) for p in _TAG.split(block)) + out[end:]
    return out, changed


def with_promotion(html: str, n: int) -> str:
    """The article with a promotion block after its body: a price, a countdown clock,
    a reader counter and a relative time, all different on every load."""
    promo = (
        f'<aside class="promo"><h2>Support our journalism</h2><p>Subscribe today: '
        f"{n % 9 + 2} months for £{n * 3 % 50 + 1}, offer ends in {n % 24:02d}:{n * 7 % 60:02d}:"
        f"{n * 13 % 60:02d}. {12_000 + n * 337:,} readers joined this week. Updated {n} "
        f"minutes ago. Breaking: {n + 4} detained in Almaty on {n % 28 + 1} March.</p></aside>"
    )
    at = html.index("</article>") + len("</article>")
    return html[:at] + promo + html[at:]


def rotating_promotion(html: str) -> Callable[[Request], str]:
    counter = itertools.count(1)
    return lambda _request: with_promotion(html, next(counter))


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as receiver:
        yield receiver


@pytest.fixture
def captured(
    simweb: SimulatedWeb,
    make_settings: Callable[..., Settings],
    hook: Webhook,
    clock: FixedClock,
    tmp_path: Path,
) -> Iterator[Archive]:
    original = pages.corpus_page(ARTICLE).decode("utf-8")
    simweb.page(EDITED, original)
    simweb.page(ROTATING, rotating_promotion(original))
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        network__timeout="3",
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        capture__modes='{default = ["http"]}',
        check__confirm_after="0",
        check__probe_budget="10",
        check__jitter="0",
        notify__webhook_url=hook.url,
    )
    report = tmp_path / "digest.md"
    report.write_text(f"Casual staff [^1]; more [^2].\n\n[^1]: {EDITED}\n[^2]: {ROTATING}\n")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        outcomes = archive.capture()
        assert len(outcomes) == 2 and all(o.preserved for o in outcomes)
        yield archive


def source_of(archive: Archive, url: str) -> Source:
    with archive.db.session() as session:
        source = session.scalars(select(Source).where(Source.url == url)).one()
        session.expunge(source)
        return source


def results_of(archive: Archive, url: str) -> list[CheckResult]:
    source = source_of(archive, url)
    with archive.db.session() as session:
        found = session.scalars(
            select(CheckResult).where(CheckResult.source_id == source.id).order_by(CheckResult.id)
        ).all()
        session.expunge_all()
        return list(found)


def quoted(changes: list[dict[str, object]], before: str, after: str) -> bool:
    """One change quotes ``before`` on its old side and ``after`` on its new side."""
    return any(before in str(c["before"]) and after in str(c["after"]) for c in changes)


def test_changed_figures_make_the_article_altered(
    captured: Archive, simweb: SimulatedWeb, clock: FixedClock, hook: Webhook
) -> None:
    archive = captured
    original = pages.corpus_page(ARTICLE).decode("utf-8")
    edited, figures = change_figures(original)
    assert ("67,000", "6,700") in figures and ("30,000", "3,000") in figures
    simweb.page(EDITED, edited)

    for _ in range(2):  # an accusation needs a second observation (confirm_after = 0)
        clock.advance(hours=3)
        archive.check(source_ids=[source_of(archive, EDITED).id])

    assert source_of(archive, EDITED).state == "altered"
    first, second = results_of(archive, EDITED)
    assert first.pending_state == "altered"
    # Nearly every word is the same: the similarity alone would say live.
    assert second.similarity is not None and second.similarity > 0.99
    changes = second.details["changes"]
    assert quoted(changes, "67,000 research staff", "6,700 research staff"), changes
    assert quoted(changes, "30,000 contracted teaching", "3,000 contracted teaching"), changes
    assert all(c["kinds"] == ["number"] for c in changes)
    # The diff quotes the real text, digits and all.
    diff = "\n".join(second.diff)
    assert "- The report explores data showing that 67,000 research staff" in diff
    assert "+ The report explores data showing that 6,700 research staff" in diff
    assert "#" not in diff and "<date>" not in diff

    with archive.db.session() as session:
        transition = session.scalars(select(StateTransition)).one()
        assert transition.to_state == "altered"
        assert "67,000" in transition.reason and "6,700" in transition.reason
        snapshots = session.scalars(
            select(Snapshot).where(Snapshot.source_id == transition.source_id)
        ).all()
        assert len(snapshots) == 2  # re-captured; the baseline is the first snapshot

    # The source's page and GET /api/v1/sources/{id} show them too.
    shown = stored_diffs(archive.db, source_of(archive, EDITED).id)
    assert quoted(shown[-1]["changes"], "67,000 research staff", "6,700 research staff")

    events = [e for doc in hook.received for e in doc["events"]]
    (event,) = [e for e in events if e["event"] == "state_change"]
    assert event["to_state"] == "altered"
    assert quoted(event["changes"], "67,000 research staff", "6,700 research staff")
    assert any("67,000 research staff" in line for line in event["diff"])


def test_rotating_promotion_outside_the_main_text_stays_live(
    captured: Archive, clock: FixedClock
) -> None:
    archive = captured
    source = source_of(archive, ROTATING)
    for _ in range(10):
        clock.advance(hours=3)
        archive.check(source_ids=[source.id])
        assert source_of(archive, ROTATING).state == "live"
    results = results_of(archive, ROTATING)
    assert len(results) == 10
    assert all(r.pending_state is None for r in results)
    assert all(r.similarity == 1.0 and not r.diff for r in results)
    assert all(r.details.get("figures_compared") is True for r in results)


def test_a_baseline_stored_before_numbers_counted_is_completed_not_accused(
    captured: Archive, simweb: SimulatedWeb, clock: FixedClock
) -> None:
    """Baselines stored masked (before this change) have no main text: it is read again
    from the baseline snapshot's WARC, and the source stays live; the next edit of a
    figure is seen."""
    archive = captured
    source = source_of(archive, ROTATING)
    clock.advance(hours=3)
    archive.check(source_ids=[source.id])
    with archive.db.session() as session:
        # As a database migrated from before: masked text only.
        session.execute(
            update(Baseline)
            .where(Baseline.source_id == source.id)
            .values(main_text=None, text_form=None)
        )
    clock.advance(hours=3)
    archive.check(source_ids=[source.id])
    assert source_of(archive, ROTATING).state == "live"
    with archive.db.session() as session:
        row = session.get(Baseline, source.id)
        assert row is not None and row.text_form == "article-1"
        assert row.main_text is not None and "67,000 research staff" in row.main_text
    # The baseline's WARC is gone too: the similarity still decides, and says so.
    with archive.db.session() as session:
        session.execute(
            update(Baseline)
            .where(Baseline.source_id == source.id)
            .values(main_text=None, text_form=None)
        )
        snapshot = session.scalars(select(Snapshot).where(Snapshot.source_id == source.id)).one()
        warc = archive.settings.storage.root / snapshot.warc_path
    moved = warc.with_suffix(".away")
    warc.rename(moved)
    try:
        clock.advance(hours=3)
        archive.check(source_ids=[source.id])
    finally:
        moved.rename(warc)
    assert source_of(archive, ROTATING).state == "live"
    last = results_of(archive, ROTATING)[-1]
    assert last.details.get("figures_compared") is False
    # Restored: the figures are compared again, and an edit is seen.
    edited = change_figures(pages.corpus_page(ARTICLE).decode("utf-8"))[0]
    simweb.page(ROTATING, rotating_promotion(edited))
    clock.advance(hours=3)
    archive.check(source_ids=[source.id])
    assert results_of(archive, ROTATING)[-1].pending_state == "altered"
