"""The report page's "download all the evidence" (lawyer): the same export as the CLI's,
served from a worker thread while the server keeps answering, recorded in custody."""

from __future__ import annotations

import asyncio
import io
import threading
import urllib.request
import zipfile
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from archiver.integrity.verify_report import verify_report_export
from archiver.models import CustodyEvent
from archiver.web import create_app
from archiver.web.tokens import Role, create_token
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.integrity.test_report_export import World, world  # noqa: F401


class HeldTsa:
    """A TSA in front of the local one that holds each request until released."""

    def __init__(self, upstream: str) -> None:
        self.asked = threading.Event()
        self.release = threading.Event()
        self.release.set()  # passing requests through until a test holds them
        held = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                held.asked.set()
                held.release.wait(60)
                request = urllib.request.Request(
                    upstream, data=body, headers={"Content-Type": self.headers["Content-Type"]}
                )
                with urllib.request.urlopen(request, timeout=30) as reply:
                    data = reply.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tokens(world: World) -> dict[str, str]:  # noqa: F811
    made = {}
    for role in (Role.VIEWER, Role.LAWYER):
        _, made[role.value] = create_token(
            world.archive.db, name=f"{role.value}-p", role=role, clock=world.archive.clock
        )
    return made


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    app = create_app(world.archive, world.archive.settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def held_tsa(local_tsa: LocalTsa) -> Iterator[HeldTsa]:
    held = HeldTsa(local_tsa.url)
    yield held
    held.close()


@pytest.fixture
def tsa_url(held_tsa: HeldTsa) -> str:
    """The archive of ``world`` asks the held TSA."""
    return held_tsa.url


async def test_lawyer_downloads_the_report_export_while_the_server_answers(
    world: World,  # noqa: F811
    tokens: dict[str, str],
    client: httpx.AsyncClient,
    held_tsa: HeldTsa,
    tmp_path: Path,
) -> None:
    url = f"/api/v1/reports/{world.report_id}/export"
    lawyer = {"Authorization": f"Bearer {tokens['lawyer']}"}
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert (await client.get(url, headers=viewer)).status_code == 403
    held_tsa.release.clear()
    held_tsa.asked.clear()
    export = asyncio.create_task(client.get(url, headers=lawyer))
    # The export is waiting for the TSA, inside its worker thread...
    assert await asyncio.to_thread(held_tsa.asked.wait, 60)
    # ...and the server still answers.
    page = await client.get(f"/reports/{world.report_id}", headers=lawyer)
    assert page.status_code == 200
    assert f'href="/api/v1/reports/{world.report_id}/export"' in page.text
    held_tsa.release.set()
    reply = await export
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/zip"
    saved = tmp_path / "download.zip"
    saved.write_bytes(reply.content)
    assert not verify_report_export(saved).failed
    with zipfile.ZipFile(io.BytesIO(reply.content)) as zf:
        assert "index.csv" in zf.namelist()
    events = await asyncio.to_thread(_events, world)
    download = [e for e in events if e.action == "download" and e.subject_type == "report"]
    assert len(download) == 1
    assert download[0].details["sha256"] == reply.headers["x-archiver-sha256"]
    assert download[0].actor == "web:lawyer-p" and download[0].details["role"] == "lawyer"
    # The file built for the download is not kept.
    left = world.archive.settings.storage.root / "exports" / "web"
    assert [p for p in left.iterdir() if p.name.startswith("report-")] == []
    viewer_page = await client.get(f"/reports/{world.report_id}", headers=viewer)
    assert "/export" not in viewer_page.text


async def test_unknown_report_is_404(
    world: World,  # noqa: F811
    tokens: dict[str, str],
    client: httpx.AsyncClient,
) -> None:
    reply = await client.get(
        "/api/v1/reports/999/export", headers={"Authorization": f"Bearer {tokens['lawyer']}"}
    )
    assert reply.status_code == 404


def _events(world: World) -> list[CustodyEvent]:  # noqa: F811
    with world.archive.db.session() as session:
        return list(session.scalars(select(CustodyEvent).order_by(CustodyEvent.seq)))
