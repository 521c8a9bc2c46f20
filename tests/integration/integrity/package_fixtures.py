"""An archive with one source captured (plain HTTP from a local server), sealed and
stamped by the local openssl TSA: the starting point of the export and verify tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from archiver.app import Archive
from archiver.config import Settings, load_settings
from tests.conftest import REPO, FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.support.httpserver import Response, serve

ARTICLE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Суд над активистом</title>"
    "</head><body><h1>Суд над активистом</h1><p>3 октября в Кызылорде суд начал "
    "рассмотрение дела.</p></body></html>"
).encode()
CLAIM = "On 3 October a trial of the activist began in Kyzylorda"


@dataclass
class Sealed:
    archive: Archive
    source_id: int
    snapshot_id: str
    url: str
    tsa: LocalTsa
    clock: FixedClock


def integrity_settings(root: Path, database_url: str, tsa_urls: list[str]) -> Settings:
    settings = load_settings(
        environ={
            "ARCHIVER_STORAGE__ROOT": str(root),
            "ARCHIVER_STORAGE__DATABASE_URL": database_url,
            "ARCHIVER_NETWORK__ALLOW_PRIVATE_NETWORKS": "true",
            "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
            "ARCHIVER_INTEGRITY__TSA_URLS": json.dumps(tsa_urls),
        },
        config_file=REPO / "config" / "archiver.toml",
    )
    # Plain HTTP only: the browser capture has its own (slow) tests.
    http_only = {"default": ("http",), "article": ("http",)}
    return settings.model_copy(
        update={"capture": settings.capture.model_copy(update={"modes": http_only})}
    )


@contextmanager
def sealed_archive(
    root: Path,
    database_url: str,
    clock: FixedClock,
    tsa: LocalTsa,
    integrity: dict[str, object] | None = None,
) -> Iterator[Sealed]:
    """Capture one article, then stamp it (and the first custody head). ``integrity``:
    integrity settings to change (organisation, operator...)."""
    page = Response(200, ARTICLE, {"Content-Type": "text/html; charset=utf-8"})
    with serve({"/news/1.html": page}) as server:
        url = server.url("/news/1.html")
        settings = integrity_settings(root / "storage", database_url, [tsa.url])
        if integrity:
            changed = settings.integrity.model_copy(update=integrity)
            settings = settings.model_copy(update={"integrity": changed})
        report = root / "digest.txt"
        report.write_text(f"Monitoring digest\n\n{CLAIM}[1].\n\n[1] {url}\n", encoding="utf-8")
        with Archive.open(settings, clock=clock) as archive:
            archive.add(str(report))
            outcomes = archive.capture(actor="cli:tester")
            assert [o.http_status for o in outcomes] == [200]
            assert outcomes[0].snapshot_id is not None
            clock.advance(seconds=5)
            summary = archive.stamp_pending()
            # The manifest, and the first custody head (due at once).
            assert (summary.granted, summary.pending) == (2, 0), summary.errors
            yield Sealed(archive, outcomes[0].source_id, outcomes[0].snapshot_id, url, tsa, clock)
