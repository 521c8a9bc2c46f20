"""The replay's routes without a browser: ReplayWeb.page's files and the snapshot's WACZ
served by the archiver (byte ranges, HEAD), who may read the WACZ and how (a viewer
only as the replay's own fetch), one custody entry per view, the policies, and what the
page says when the viewer's files or the WARC are missing."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from archiver.integrity.custody import load_chain
from archiver.web import create_app
from archiver.web.replay import REPLAY_PAGE_POLICY, REPLAY_VIEW_WINDOW, WORKER_POLICY
from tests.conftest import FixedClock
from tests.integration.web.conftest import WebWorld, bearer

# What Chromium sends with the replay's service worker's own fetch.
FROM_THE_REPLAY = {"Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "same-origin"}


def _replays(world: WebWorld) -> list[dict[str, object]]:
    with world.archive.db.session() as session:
        return [
            {"actor": e.actor, "action": e.action, **e.details}
            for e in load_chain(session)
            if e.subject_id == world.snapshot_id and e.details.get("artefact") == "replay"
        ]


async def test_the_wacz_holds_the_warc_and_is_served_in_ranges(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    url = f"/snapshots/{world.snapshot_id}.wacz"
    whole = await client.get(url, headers=bearer(world.tokens["lawyer"]))
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert "attachment" not in whole.headers.get("content-disposition", "")
    with zipfile.ZipFile(io.BytesIO(whole.content)) as zf:
        warcs = [n for n in zf.namelist() if n.startswith("archive/")]
        assert len(warcs) == 1
        assert hashlib.sha256(zf.read(warcs[0])).hexdigest() == world.warc_sha256
        assert world.snapshot_id in zf.read("pages/pages.jsonl").decode()
    size = len(whole.content)

    head = await client.head(url, headers=bearer(world.tokens["lawyer"]))
    assert head.status_code == 200 and int(head.headers["content-length"]) == size
    part = await client.get(url, headers={**bearer(world.tokens["lawyer"]), "Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-99/{size}"
    assert part.content == whole.content[10:100]
    tail = await client.get(url, headers={**bearer(world.tokens["lawyer"]), "Range": "bytes=-22"})
    assert tail.status_code == 206 and tail.content == whole.content[-22:]
    assert tail.content.startswith(b"PK\x05\x06")  # the zip's end record


async def test_a_viewer_reads_the_wacz_only_as_the_replay(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    url = f"/snapshots/{world.snapshot_id}.wacz"
    viewer = bearer(world.tokens["viewer"])
    typed = await client.get(url, headers=viewer)
    assert typed.status_code == 403 and "lawyer role" in typed.json()["detail"]
    followed = await client.get(
        url, headers={**viewer, "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "same-origin"}
    )
    assert followed.status_code == 403
    other_site = await client.get(
        url, headers={**viewer, "Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "cross-site"}
    )
    assert other_site.status_code == 403
    replay = await client.get(url, headers={**viewer, **FROM_THE_REPLAY, "Range": "bytes=0-3"})
    assert replay.status_code == 206 and replay.content == b"PK\x03\x04"
    assert (await client.get(url)).status_code == 401
    missing = await client.get(
        "/snapshots/00000000-0000-4000-8000-000000000000.wacz",
        headers=bearer(world.tokens["lawyer"]),
    )
    assert missing.status_code == 404


async def test_a_view_is_logged_once_per_person_and_window(
    client: httpx.AsyncClient, world: WebWorld, clock: FixedClock
) -> None:
    url = f"/snapshots/{world.snapshot_id}.wacz"
    viewer = {**bearer(world.tokens["viewer"]), **FROM_THE_REPLAY}
    for first in (0, 100, 200):
        answer = await client.get(url, headers={**viewer, "Range": f"bytes={first}-{first + 9}"})
        assert answer.status_code == 206
    logged = _replays(world)
    assert len(logged) == 1
    assert logged[0]["role"] == "viewer" and logged[0]["inline"] is True
    assert logged[0]["sha256"] == world.warc_sha256 and logged[0]["action"] == "download"
    # Another person: their own entry; the same person later: a new one.
    await client.get(url, headers=bearer(world.tokens["lawyer"]))
    assert [e["role"] for e in _replays(world)] == ["viewer", "lawyer"]
    clock.advance(seconds=REPLAY_VIEW_WINDOW.total_seconds() + 1)
    await client.get(url, headers=viewer)
    assert [e["role"] for e in _replays(world)] == ["viewer", "lawyer", "viewer"]
    clock.advance(seconds=(REPLAY_VIEW_WINDOW - timedelta(seconds=5)).total_seconds())
    await client.get(url, headers=viewer)
    assert len(_replays(world)) == 3


async def test_the_viewer_files_and_the_policies(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    viewer = bearer(world.tokens["viewer"])
    page = await client.get(f"/sources/{world.source_id}", headers=viewer)
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == REPLAY_PAGE_POLICY
    assert "http" not in REPLAY_PAGE_POLICY and "unsafe-eval" not in REPLAY_PAGE_POLICY
    assert f'source="/snapshots/{world.snapshot_id}.wacz"' in page.text
    assert '<script src="/replay/ui.js"></script>' in page.text
    ui = await client.get("/replay/ui.js", headers=viewer)
    assert ui.status_code == 200 and ui.headers["content-type"].startswith("text/javascript")
    worker = await client.get("/replay/sw.js", headers=viewer)
    assert worker.status_code == 200
    # The worker's own policy: it may read from this origin only.
    assert worker.headers["content-security-policy"] == WORKER_POLICY
    # The replay frame's page, as the worker serves it: ReplayWeb.page's app.
    frame = await client.get("/replay/?source=x", headers=viewer)
    assert "<replay-app-main>" in frame.text and "/replay/ui.js" in frame.text
    assert (
        frame.status_code == 200
        and "frame-ancestors 'self'" in frame.headers["content-security-policy"]
    )
    # Only the two files the replay needs; nothing else of the package, no path tricks.
    for name in ("index.html", "package.json", "..%2Fpackage.json", "ui.js.map"):
        assert (await client.get(f"/replay/{name}", headers=viewer)).status_code == 404, name
    assert (await client.get("/replay/ui.js")).status_code == 401


async def test_without_the_viewer_files_the_page_says_so(world: WebWorld, tmp_path: Path) -> None:
    settings = world.archive.settings
    web = settings.web.model_copy(update={"replay_viewer": tmp_path / "not-installed"})
    app = create_app(world.archive, settings.model_copy(update={"web": web}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        page = await c.get(f"/sources/{world.source_id}", headers=bearer(world.tokens["admin"]))
        assert "The replay is not available" in page.text
        assert "files are not installed on this server" in page.text
        assert str(tmp_path / "not-installed") in page.text and "./dev run" in page.text
        assert "<replay-web-page" not in page.text
        # No script is allowed where none is used.
        assert "script-src" not in page.headers["content-security-policy"]
        ui = await c.get("/replay/ui.js", headers=bearer(world.tokens["viewer"]))
        assert ui.status_code == 503 and "web.replay_viewer" in ui.json()["detail"]
        viewer_page = await c.get(
            f"/sources/{world.source_id}", headers=bearer(world.tokens["viewer"])
        )
        assert str(tmp_path) not in viewer_page.text and "ask the operator" in viewer_page.text


async def test_a_changed_warc_is_not_replayed(client: httpx.AsyncClient, world: WebWorld) -> None:
    data = bytearray(world.warc_path.read_bytes())
    data[-1] ^= 0xFF
    world.warc_path.write_bytes(bytes(data))
    answer = await client.get(
        f"/snapshots/{world.snapshot_id}.wacz", headers=bearer(world.tokens["lawyer"])
    )
    # Found unreadable as it is indexed, else by its sha256 as it is copied.
    assert answer.status_code == 409
    assert "damaged" in answer.json()["detail"] or "has changed" in answer.json()["detail"]


async def test_a_missing_warc_is_said_on_the_page(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    world.warc_path.unlink()
    page = await client.get(f"/sources/{world.source_id}", headers=bearer(world.tokens["viewer"]))
    assert "WARC file is missing from the store" in page.text
    assert "<replay-web-page" not in page.text


@pytest.mark.parametrize("role", ["viewer", "lawyer"])
async def test_every_snapshot_with_a_response_can_be_replayed(
    client: httpx.AsyncClient, world: WebWorld, role: str
) -> None:
    page = await client.get(f"/sources/{world.source_id}", headers=bearer(world.tokens[role]))
    assert f'href="?replay={world.snapshot_id}#replay"' in page.text
    chosen = await client.get(
        f"/sources/{world.source_id}?replay={world.snapshot_id}", headers=bearer(world.tokens[role])
    )
    assert f"/snapshots/{world.snapshot_id}.wacz" in chosen.text
    # Another source's snapshot, or nonsense, falls back to this source's latest.
    odd = await client.get(
        f"/sources/{world.source_id}?replay=../../etc", headers=bearer(world.tokens[role])
    )
    assert odd.status_code == 200 and f"/snapshots/{world.snapshot_id}.wacz" in odd.text
