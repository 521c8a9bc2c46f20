"""The pages over HTTP in-process: login, sessions, CSRF, admin forms, errors."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from archiver.app import Archive
from archiver.config import Settings
from archiver.web import create_app
from archiver.web.tokens import Role, create_token, revoke_token
from tests.conftest import FixedClock
from tests.integration.web.conftest import WebWorld


async def _login(client: httpx.AsyncClient, token: str, next_path: str = "/") -> httpx.Response:
    return await client.post("/login", data={"token": token, "next": next_path})


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def test_login_session_and_logout(client: httpx.AsyncClient, world: WebWorld) -> None:
    page = await client.get("/reports/1?state=live")
    assert page.status_code == 401 and "Access token" in page.text
    assert 'value="/reports/1?state=live"' in page.text

    wrong = await _login(client, "arch_nope")
    assert wrong.status_code == 401 and "not valid" in wrong.text
    assert "archiver_session" not in wrong.headers.get("set-cookie", "")

    done = await _login(client, world.tokens["viewer"], "/reports/1?state=live")
    assert done.status_code == 303 and done.headers["location"] == "/reports/1?state=live"
    cookie = done.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert world.tokens["viewer"] not in cookie

    report = await client.get("/reports/1?state=live")
    assert report.status_code == 200
    assert "Showing 1 of 127 citations." in report.text
    assert "viewer-person (viewer)" in report.text
    # The session works for the API too (links on the pages), but a viewer's is a viewer's.
    assert (await client.get("/api/v1/status")).status_code == 200
    download = await client.get(f"/api/v1/snapshots/{world.snapshot_id}/warc")
    assert download.status_code == 403

    # Logging out needs the form's CSRF value.
    assert (await client.post("/logout", data={"csrf": "forged"})).status_code == 403
    out = await client.post("/logout", data={"csrf": _csrf(report.text)})
    assert out.status_code == 303
    assert (await client.get("/")).status_code == 401


async def test_revoking_a_token_ends_its_sessions(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    await _login(client, world.tokens["lawyer"])
    assert (await client.get("/")).status_code == 200
    revoke_token(world.archive.db, "lawyer-person", clock=world.archive.clock)
    assert (await client.get("/")).status_code == 401


async def test_login_never_redirects_off_site(client: httpx.AsyncClient, world: WebWorld) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        done = await _login(client, world.tokens["viewer"], target)
        assert done.headers["location"] == "/", target


async def test_admin_adds_a_report_and_a_feed_on_the_page(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    await _login(client, world.tokens["lawyer"])
    assert (await client.get("/add")).status_code == 403
    await _login(client, world.tokens["admin"])
    form = await client.get("/add")
    assert form.status_code == 200
    token = _csrf(form.text)
    report = b"Detained [1].\n\n[1] https://rus.azattyq.org/a/99.html\n"
    files = {"file": ("may.txt", report, "text/plain")}
    forged = await client.post("/add", data={"csrf": "x"}, files=files)
    assert forged.status_code == 403
    added = await client.post("/add", data={"csrf": token}, files=files)
    assert added.status_code == 200
    assert "Added as report 2: 1 citations, 1 sources (1 new)." in added.text
    bad = await client.post(
        "/add",
        data={"csrf": token},
        files={"file": ("x.zip", b"PK\x03\x04junk", "application/zip")},
    )
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    feed = await client.post(
        "/feeds", data={"csrf": token, "url": "https://monitor.example.org/feed.xml"}
    )
    assert feed.status_code == 200 and "monitor.example.org/feed.xml" in feed.text
    listed = await client.get("/api/v1/feeds")
    assert [f["added_by"] for f in listed.json()] == ["web:admin-person"]


async def test_pages_show_a_source_and_its_timeline(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    await _login(client, world.tokens["viewer"])
    index = await client.get("/")
    assert "1 report, 127 citations, 118 sources" in index.text
    assert "<strong>1</strong> of 118 preserved" in index.text
    sources = await client.get("/sources?platform=youtube")
    assert "Showing 8 of 118 sources." in sources.text
    page = await client.get(f"/sources/{world.source_id}")
    assert page.status_code == 200
    assert "viewing evidence needs the lawyer role" in page.text
    assert "HTTP 200" in page.text and "capture" in page.text
    missing = await client.get("/sources/99999", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "No such source." in missing.text


async def test_pages_forbid_scripts_framing_and_referrers(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    for path in ("/login", "/healthz"):
        response = await client.get(path)
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy


async def test_a_diff_kept_as_lines_with_its_observation(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    """The re-check's results (archiver.models.CheckResult): the diff as lines, timed by
    its observation, with a similarity; empty diffs and degraded runs are not shown, and
    the same diff found by several checks is shown once, with how many saw it."""
    from sqlalchemy import select

    from archiver.models import CheckResult, CheckRun, Observation

    with world.archive.db.session() as session:
        observation = session.scalars(select(Observation)).one()
        run = CheckRun(started_at=observation.observed_at, trigger="cli", summary={})
        session.add(run)
        session.flush()
        rows = [
            (0.42, ["- задержан", "+ освобождён"], False),
            (0.42, ["- задержан", "+ освобождён"], False),
            (1.0, [], False),
            (0.1, ["- our network was down"], True),
        ]
        for similarity, diff, degraded in rows:
            session.add(
                CheckResult(
                    observation_id=observation.id,
                    run_id=run.id,
                    source_id=world.source_id,
                    similarity=similarity,
                    diff=diff,
                    degraded=degraded,
                    details={},
                )
            )
            session.flush()
            # One result per observation: each row gets its own (a copy of the first).
            observation = Observation(
                **{
                    c.key: getattr(observation, c.key)
                    for c in Observation.__table__.columns
                    if c.key != "id"
                }
            )
            session.add(observation)
            session.flush()
        session.commit()
    await _login(client, world.tokens["viewer"])
    api = (await client.get(f"/api/v1/sources/{world.source_id}")).json()
    assert api["diffs"] == [
        {
            "at": "2026-01-02T03:05:05Z",
            "diff": "- задержан\n+ освобождён",
            "similarity": 0.42,
            "seen": 2,
            "last_at": "2026-01-02T03:05:05Z",
        }
    ]
    page = await client.get(f"/sources/{world.source_id}")
    assert "similarity to the first snapshot 42%" in page.text
    assert "What changed" in page.text and page.text.count("- задержан\n+ освобождён") == 1
    assert "the same difference seen by 2 checks" in page.text


async def test_admin_creates_and_revokes_a_token_on_the_page(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    await _login(client, world.tokens["admin"])
    page = await client.get("/tokens")
    assert page.status_code == 200 and "lawyer-person" in page.text
    assert all(token not in page.text for token in world.tokens.values())
    csrf = _csrf(page.text)
    created = await client.post("/tokens", data={"csrf": csrf, "name": "erlan", "role": "viewer"})
    found = re.search(r'id="created" type="text" readonly value="([^"]+)"', created.text)
    assert found and found.group(1).startswith("arch_")
    # The new token works, until revoked on the same page.
    async with httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver"
    ) as other:
        assert (await _login(other, found.group(1))).status_code == 303
        token_id = re.findall(r'name="revoke" value="(\d+)"', created.text)[-1]
        revoked = await client.post("/tokens", data={"csrf": csrf, "revoke": token_id})
        assert "Revoked: erlan." in revoked.text
        assert (await other.get("/")).status_code == 401
    assert (await client.post("/tokens", data={"csrf": "x", "revoke": token_id})).status_code == 403


async def test_secure_cookies_setting(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    settings = make_settings(web__secure_cookies="true")
    with Archive.open(settings, clock=clock) as archive:
        _, token = create_token(archive.db, name="ops", role=Role.VIEWER, clock=clock)
        transport = httpx.ASGITransport(app=create_app(archive))
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
            done = await _login(client, token)
    assert "; secure" in done.headers["set-cookie"].lower()
