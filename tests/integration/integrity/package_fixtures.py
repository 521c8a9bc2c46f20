"""An archive with one source captured (plain HTTP from a local server), sealed and
stamped by the local openssl TSA: the starting point of the export and verify tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from archiver.app import Archive
from archiver.config import Settings
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.support.httpserver import Response, serve

ARTICLE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Суд над активистом</title>"
    "</head><body><h1>Суд над активистом</h1><p>3 октября в Кызылорде суд начал "
    "рассмотрение дела.</p></body></html>"
).encode()


@dataclass
class Sealed:
    archive: Archive
    source_id: int
    url: str
    tsa: LocalTsa


def sealed_archive(
    make_settings: Callable[..., Settings],
    database_url: str,
    clock: FixedClock,
    tsa: LocalTsa,
    tmp_path: Path,
) -> Iterator[Sealed]:
    with serve(
        {"/news/1.html": Response(200, ARTICLE, {"Content-Type": "text/html; charset=utf-8"})}
    ) as server:
        url = server.url("/news/1.html")
        settings = make_settings(
            database_url,
            network__allow_private_networks="true",
            capture__per_host_interval="0",
            integrity__tsa_urls=json.dumps([tsa.url]),
        )
        # Plain HTTP only: the browser capture has its own (slow) tests.
        http_only = {"default": ("http",), "article": ("http",)}
        settings = settings.model_copy(
            update={"capture": settings.capture.model_copy(update={"modes": http_only})}
        )
        report = tmp_path / "digest.txt"
        report.write_text(
            f"Monitoring digest\n\nOn 3 October a trial began in Kyzylorda[1].\n\n[1] {url}\n",
            encoding="utf-8",
        )
        with Archive.open(settings, clock=clock) as archive:
            archive.add(str(report))
            outcomes = archive.capture(actor="test")
            assert [o.http_status for o in outcomes] == [200]
            clock.advance(seconds=5)
            summary = archive.stamp_pending()
            # The manifest, and the first custody head (due at once).
            assert (summary.granted, summary.pending) == (2, 0), summary.errors
            yield Sealed(archive, outcomes[0].source_id, url, tsa)


@pytest.fixture
def sealed(
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    local_tsa: LocalTsa,
    tmp_path: Path,
) -> Iterator[Sealed]:
    yield from sealed_archive(
        make_settings, f"sqlite:///{tmp_path / 'a.db'}", clock, local_tsa, tmp_path
    )
