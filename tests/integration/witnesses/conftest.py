"""The world of the witness tests: a report citing two sources that are gone, a real
archive (pywb) holding three copies of one of them, and the fixtures over it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archiver.app import Archive
from archiver.config import Settings
from tests.conftest import FixedClock
from tests.integration.witnesses.archive import Copy, pywb_archive, serve_as_wayback
from tests.simweb import SimulatedWeb
from tests.simweb.corpus import read_manifest
from tests.simweb.fixtures import simweb  # noqa: F401

GONE = "https://rus.azattyq.org/a/32063459.html"
NEVER_ARCHIVED = "https://kaztag.kz/ru/news/never-archived"
NEAR = datetime(2022, 10, 5, 14, 2, 11, tzinfo=UTC)
REPORT = f"""# Monitoring of political persecution from October 1 to October 31, 2022

October 4, Almaty: an activist was detained [^1]. Another case [^2].

[^1]: {GONE}
[^2]: {NEVER_ARCHIVED}
"""


def _corpus_page() -> bytes:
    entry = next(e for e in read_manifest() if e.platform == "news" and e.http_status == 200)
    return entry.body()


PAGE = _corpus_page()
COPIES = (
    Copy(GONE, datetime(2022, 9, 1, 8, 0, tzinfo=UTC), PAGE + b"<!-- crawl 1 -->"),
    Copy(GONE, NEAR, PAGE + b"<!-- crawl 2 -->"),
    Copy(GONE, datetime(2023, 3, 1, 0, 0, tzinfo=UTC), PAGE + b"<!-- crawl 3 -->"),
)


@pytest.fixture(scope="module")
def wayback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pywb_archive(tmp_path_factory.mktemp("pywb"), COPIES) as base:
        yield base


@pytest.fixture
def web(simweb: SimulatedWeb, wayback: str) -> SimulatedWeb:  # noqa: F811
    simweb.page(GONE, "<h1>Not found</h1>", status=404)
    simweb.page(NEVER_ARCHIVED, "<h1>Not found</h1>", status=404)
    serve_as_wayback(simweb, wayback)
    return simweb


@pytest.fixture
def archive(
    web: SimulatedWeb, make_settings: Callable[..., Settings], clock: FixedClock, tmp_path: Path
) -> Iterator[Archive]:
    settings = make_settings(
        network__proxy=web.proxy_url,
        capture__per_host_interval="0",
        capture__extra_ca_file=str(web.ca_pem_path),
        capture__modes='{default = ["http"]}',
        integrity__tsa_urls="[]",
        witnesses__lookup_unpreserved="true",
    )
    report = tmp_path / "report.md"
    report.write_text(REPORT, encoding="utf-8")
    with Archive.open(settings, clock=clock) as opened:
        opened.add(str(report))
        opened.capture()
        yield opened
