"""An archive holding report 001, one real snapshot (a WARC written by the project's
writer, with a screenshot record), tokens for each role, and the app over it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from archiver.app import Archive
from archiver.capture.warc import artefact_uri, open_snapshot, snapshot_relpath
from archiver.config import Settings
from archiver.models import Observation, Snapshot, Source
from archiver.web import create_app
from archiver.web.tokens import Role, create_token
from tests.conftest import REPORT_001, FixedClock

# A real PNG: 2x2 pixels, red.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a73"
    "0000001049444154789c63f8cfc000440c100a001fee03fd8b5f14d40000000049454e44ae426082"
)
HTML = "<html><head><title>Суд</title></head><body><p>Задержан журналист.</p></body></html>"


@dataclass
class WebWorld:
    archive: Archive
    tokens: dict[str, str]
    source_id: int
    snapshot_id: str
    warc_path: Path
    warc_sha256: str


def add_snapshot(
    archive: Archive,
    source_id: int,
    clock: FixedClock,
    html: str = HTML,
    title: str = "Суд",
    png: bytes = PNG,
) -> tuple[str, Path, str]:
    """Write a real snapshot WARC for the source (its page ``html``, its screenshot
    ``png``), and its row and observation."""
    with archive.db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        url = source.url
    snapshot_id = uuid.uuid4()
    started = clock()
    relative = snapshot_relpath(source_id, snapshot_id, started)
    path = archive.settings.storage.root / relative
    body = html.encode()
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with open_snapshot(path, clock=clock) as writer:
        writer.write_warcinfo(operator="test")
        writer.write_response(url, head, body)
        writer.write_resource(artefact_uri("screenshot", url), "image/png", png)
    sealed = writer.sealed
    with archive.db.session() as session:
        session.add(
            Snapshot(
                id=str(snapshot_id),
                source_id=source_id,
                started_at=started,
                finished_at=started + timedelta(seconds=2),
                methods=["browser"],
                warc_path=str(relative),
                warc_sha256=sealed.sha256,
                warc_size=sealed.size,
                http_status=200,
                final_url=url,
                redirect_chain=[],
                payload_sha256=hashlib.sha256(body).hexdigest(),
                payload_size=len(body),
                content_type="text/html",
                title=title,
                truncated=False,
                artefacts=[
                    {
                        "kind": "screenshot",
                        "uri": artefact_uri("screenshot", url),
                        "content_type": "image/png",
                        "size": len(png),
                        "sha256": hashlib.sha256(png).hexdigest(),
                    }
                ],
                records=4,
            )
        )
        # As recording a capture that preserves the source does: no capture is due.
        row = session.get(Source, source_id)
        assert row is not None
        row.capture_attempts += 1
        row.next_capture_at = None
        session.flush()
        session.add(
            Observation(
                source_id=source_id,
                observed_at=started,
                via="capture",
                snapshot_id=str(snapshot_id),
                http_status=200,
                final_url=url,
                implied_state="live",
                resulting_state="live",
                reason="HTTP 200",
            )
        )
        row = session.get(Source, source_id)
        assert row is not None
        row.state = "live"
        row.last_checked_at = started
    return str(snapshot_id), path, sealed.sha256


@pytest.fixture
def world(
    make_settings: Callable[..., Settings], clock: FixedClock, database_url: str
) -> Iterator[WebWorld]:
    """On SQLite and on PostgreSQL (the ``database_url`` fixture runs both)."""
    settings = make_settings(database_url, network__allow_private_networks="true")
    with Archive.open(settings, clock=clock) as archive:
        outcome = archive.add_file(REPORT_001)
        assert outcome.sources == 118
        source_id = archive.status()["sources"][0]["id"]
        clock.advance(minutes=1)
        snapshot_id, path, sha = add_snapshot(archive, source_id, clock)
        tokens = {}
        for role in Role:
            _, tokens[role.value] = create_token(
                archive.db, name=f"{role.value}-person", role=role, clock=clock
            )
        yield WebWorld(archive, tokens, source_id, snapshot_id, path, sha)


@pytest.fixture
async def client(world: WebWorld) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(world.archive, world.archive.settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
