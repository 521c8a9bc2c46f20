"""Adding reports end to end: harvest, stored bytes, one transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from archiver.app import Archive
from archiver.errors import HarvestError, StoreError
from archiver.integrity.report_seal import citations_document, document_sha256
from archiver.models import Citation, Report, Source
from archiver.store.files import sha256_hex
from tests.conftest import REPORT_001, REPORTS, FixedClock

NOTE = re.compile(r"^\[(\d+)\](\S+)\s*$", re.M)


def _count(archive: Archive, model: type) -> int:
    with archive.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_report_001_gives_127_citations_and_118_sources(archive: Archive) -> None:
    outcome = archive.add(str(REPORT_001))
    assert outcome.citations == 127
    assert outcome.sources == 118
    assert outcome.new_sources == 118
    assert outcome.by_platform == {"news": 78, "facebook": 32, "youtube": 8}
    assert not outcome.already_stored

    notes = {int(n): url for n, url in NOTE.findall(REPORT_001.read_text(encoding="utf-8"))}
    with archive.db.session() as session:
        report = session.scalars(select(Report)).one()
        citations = session.scalars(select(Citation).order_by(Citation.position)).all()
        assert [c.marker for c in citations] == [str(n) for n in range(1, 128)]
        assert all(c.url_as_cited == notes[int(c.marker or 0)] for c in citations)
        assert all(c.context.strip() for c in citations)
        assert report.sha256 == sha256_hex(REPORT_001.read_bytes())
        stored = archive.settings.storage.root / report.stored_path
        assert stored.read_bytes() == REPORT_001.read_bytes()
        states = Counter(session.scalars(select(Source.state)))
    assert states == {"pending": 118}


def test_same_bytes_twice_changes_nothing(archive: Archive, clock: FixedClock) -> None:
    first = archive.add(str(REPORT_001))
    clock.advance(hours=1)
    again = archive.add(str(REPORT_001))
    assert again.already_stored
    assert again.report_id == first.report_id
    assert (again.citations, again.sources, again.new_sources) == (127, 118, 0)
    assert again.by_platform == first.by_platform
    assert _count(archive, Report) == 1
    assert _count(archive, Citation) == 127
    assert _count(archive, Source) == 118


def test_sources_are_shared_between_reports(archive: Archive, tmp_path: Path) -> None:
    archive.add(str(REPORT_001))
    second = tmp_path / "second.md"
    second.write_text(
        "Follow-up: the video was re-uploaded [^1] and the post edited [^2].\n\n"
        "[^1]: https://youtu.be/8ONJAsmfG3w?si=abc\n"
        "[^2]: https://www.newsite.kz/a/1\n",
        encoding="utf-8",
    )
    outcome = archive.add(str(second))
    assert (outcome.citations, outcome.sources, outcome.new_sources) == (2, 2, 1)
    assert _count(archive, Source) == 119
    with archive.db.session() as session:
        video = session.scalars(
            select(Source).where(Source.url == "https://www.youtube.com/watch?v=8ONJAsmfG3w")
        ).one()
        assert sorted(c.report_id for c in video.citations) == [1, 2]


def test_other_reports_give_no_citations_and_no_errors(archive: Archive) -> None:
    for path in sorted(REPORTS.glob("*.txt")):
        if path == REPORT_001:
            continue
        outcome = archive.add(str(path))
        assert outcome.citations == 0, path.name
    assert _count(archive, Report) == 4
    assert _count(archive, Source) == 0


def test_unreadable_report_stores_nothing(archive: Archive, tmp_path: Path) -> None:
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    with pytest.raises(HarvestError):
        archive.add(str(binary))
    assert _count(archive, Report) == 0
    assert not any(p.is_file() for p in archive.settings.reports_dir.rglob("*"))


_FAIL_CITATIONS = {
    "sqlite": [
        "CREATE TRIGGER fail_citations BEFORE INSERT ON citations "
        "BEGIN SELECT RAISE(ABORT, 'disk full while writing citations'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION fail_citations() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'disk full while writing citations'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER fail_citations BEFORE INSERT ON citations "
        "FOR EACH ROW EXECUTE FUNCTION fail_citations()",
    ],
}
_UNFAIL_CITATIONS = {
    "sqlite": ["DROP TRIGGER fail_citations"],
    "postgresql": ["DROP TRIGGER fail_citations ON citations", "DROP FUNCTION fail_citations()"],
}


def _run(archive: Archive, statements: list[str]) -> None:
    with archive.db.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def test_report_and_citations_are_one_transaction(archive: Archive) -> None:
    archive.add(str(REPORTS / "000_4001e56bf0eed7d2.txt"))
    dialect = archive.db.engine.dialect.name
    # The database refuses the citations, as a full disk would, after the report row
    # and the new sources were already written in the same transaction.
    _run(archive, _FAIL_CITATIONS[dialect])
    with pytest.raises(StoreError, match="disk full while writing citations"):
        archive.add(str(REPORT_001))
    assert _count(archive, Report) == 1
    assert _count(archive, Source) == 0
    assert _count(archive, Citation) == 0
    # ...and the same report can be added once the problem is gone.
    _run(archive, _UNFAIL_CITATIONS[dialect])
    assert archive.add(str(REPORT_001)).citations == 127


def test_status_document_has_the_public_shape(archive: Archive) -> None:
    archive.add(str(REPORT_001))
    status = archive.status()
    assert status["generated_at"] == "2026-01-02T03:04:05Z"
    assert status["summary"]["sources"] == 118
    assert status["summary"]["preserved"] == 0
    assert status["summary"]["by_state"]["pending"] == 118
    report = status["reports"][0]
    assert set(report) >= {"id", "title", "sha256", "citations"}
    assert set(report["citations"][0]) >= {"marker", "url", "source_id", "context"}
    source = status["sources"][0]
    assert set(source) >= {
        "id", "url", "platform", "kind", "state", "state_since", "preserved",
        "last_checked_at", "citations", "snapshots",
    }  # fmt: skip
    cited = sum(len(s["citations"]) for s in status["sources"])
    assert cited == 127
    by_marker = {c["marker"]: c for c in report["citations"]}
    assert by_marker["46"]["source_id"] == by_marker["47"]["source_id"]


def test_a_new_report_is_logged_in_custody_once_by_who_added_it(archive: Archive) -> None:
    from archiver.integrity.custody import load_chain, verify_chain

    outcome = archive.add(str(REPORT_001), actor="cli:monitor")
    archive.add(str(REPORT_001), actor="cli:someone-else")  # already stored: no entry
    with archive.db.session() as session:
        chain = load_chain(session)
    added = [e for e in chain if e.action == "report_added"]
    assert len(added) == 1
    entry = added[0]
    assert (entry.actor, entry.subject_type, entry.subject_id) == (
        "cli:monitor",
        "report",
        str(outcome.report_id),
    )
    # The entry seals the report's bytes and its claims (archiver.integrity.report_seal).
    report = archive.status()["reports"][0]
    claims = [
        (c.position, c.marker, c.url_as_cited, c.context)
        for c in _citation_rows(archive, outcome.report_id)
    ]
    assert entry.details == {
        "sha256": outcome.sha256,
        "origin": str(REPORT_001),
        "size": REPORT_001.stat().st_size,
        "format": report["format"],
        "citations": outcome.citations,
        "citations_sha256": document_sha256(citations_document(claims)),
    }
    assert verify_chain(chain).first_problem is None


def _citation_rows(archive: Archive, report_id: int) -> list[Citation]:
    with archive.db.session() as session:
        return list(session.scalars(select(Citation).where(Citation.report_id == report_id)))
