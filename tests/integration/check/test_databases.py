"""The re-check's storage on SQLite and PostgreSQL: transitions, evidence, custody."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from archiver.app import Archive
from archiver.config import Settings
from archiver.integrity.custody import verify_stored_chain
from archiver.models import CheckResult, Observation, Source, StateTransition
from tests.conftest import FixedClock
from tests.integration.check import pages
from tests.simweb import SimulatedWeb

KEPT = "https://rus.azattyq.org/a/kept.html"
GONE = "https://kaztag.kz/ru/news/gone"


def test_confirmed_deletion_is_stored_with_its_evidence(
    simweb: SimulatedWeb,
    make_settings: Callable[..., Settings],
    database_url: str,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    simweb.page(KEPT, pages.rotating())
    simweb.page(GONE, pages.article(noise=4))
    settings = make_settings(
        database_url,
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        capture__modes='{default = ["http"]}',
        check__confirm_after="6h",
    )
    report = tmp_path / "r.md"
    report.write_text(f"A [^1]. B [^2].\n\n[^1]: {KEPT}\n[^2]: {GONE}\n", encoding="utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        assert all(o.preserved for o in archive.capture())
        simweb.gone(GONE)
        clock.advance(hours=4)
        first = archive.check()
        assert [o.pending for o in first[0].outcomes if o.url == GONE] == ["dead"]
        clock.advance(hours=5)
        # The live source is due again (3 h interval); the confirmation not yet (6 h).
        assert [o.url for r in archive.check() for o in r.outcomes] == [KEPT]
        clock.advance(hours=1, minutes=1)  # past confirm_after (and its jitter)
        second = archive.check()
        assert {o.url: o.state_after for o in second[0].outcomes} == {GONE: "dead"}
        with archive.db.session() as session:
            gone = session.scalars(select(Source).where(Source.url == GONE)).one()
            assert gone.state == "dead" and gone.state_since == clock()
            transition = session.scalars(select(StateTransition)).one()
            checks = session.scalars(
                select(Observation)
                .where(Observation.source_id == gone.id, Observation.via == "check")
                .order_by(Observation.id)
            ).all()
            assert transition.observation_ids == [c.id for c in checks]
            assert [c.http_status for c in checks] == [410, 410]
            assert session.scalars(select(CheckResult)).all()
            report_ = verify_stored_chain(session)
            assert report_.ok and report_.entries >= 3
