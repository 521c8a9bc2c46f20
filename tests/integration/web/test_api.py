"""The JSON API in-process (httpx.ASGITransport): access rules, data, downloads."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import httpx
import pytest
from sqlalchemy import select

from archiver.integrity.custody import load_chain, verify_stored_chain
from archiver.models import CustodyEvent
from archiver.web.tokens import revoke_token
from tests.integration.web.conftest import PNG, WebWorld, bearer

PROTECTED = [
    "/",
    "/sources",
    "/sources/1",
    "/reports/1",
    "/add",
    "/metrics",
    "/api/v1/status",
    "/api/v1/status.csv",
    "/api/v1/reports",
    "/api/v1/reports/1",
    "/api/v1/sources",
    "/api/v1/sources/1",
    "/api/v1/feeds",
    "/api/v1/settings",
    "/api/v1/tokens",
    "/tokens",
    "/api/v1/openapi.json",
    "/api/v1/docs",
]


async def test_without_a_token_everything_but_health_is_401(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    downloads = [
        f"/api/v1/snapshots/{world.snapshot_id}/{what}"
        for what in ("warc", "screenshot", "package")
    ]
    for path in PROTECTED + downloads:
        response = await client.get(path)
        assert response.status_code == 401, path
    for path in ("/api/v1/reports", "/api/v1/feeds"):
        assert (await client.post(path, data={"url": "http://x/"})).status_code == 401, path
    # A wrong or malformed token is the same as none.
    for token in ("arch_not-a-real-token", "Basic abc", world.tokens["viewer"] + "x"):
        response = await client.get("/api/v1/status", headers=bearer(token))
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    health = (await client.get("/healthz")).json()
    assert health["status"] == "ok" and health["checks"]["last_run_at"] is None
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


async def test_status_has_the_documented_shape(client: httpx.AsyncClient, world: WebWorld) -> None:
    response = await client.get("/api/v1/status", headers=bearer(world.tokens["viewer"]))
    assert response.status_code == 200
    document = response.json()
    assert document == world.archive.status()
    assert set(document) >= {"generated_at", "summary", "reports", "sources"}
    assert document["summary"]["sources"] == 118
    assert document["summary"]["preserved"] == 1
    source = document["sources"][0]
    assert set(source) >= {
        "id", "url", "platform", "kind", "state", "state_since", "preserved",
        "last_checked_at", "citations", "snapshots",
    }  # fmt: skip
    assert source["snapshots"][0]["id"] == world.snapshot_id


async def test_filters_report_and_source(client: httpx.AsyncClient, world: WebWorld) -> None:
    headers = bearer(world.tokens["viewer"])
    youtube = (await client.get("/api/v1/sources?platform=youtube", headers=headers)).json()
    assert len(youtube) == 8 and {s["platform"] for s in youtube} == {"youtube"}
    live = (await client.get("/api/v1/sources?state=live", headers=headers)).json()
    assert [s["id"] for s in live] == [world.source_id]
    report = (await client.get("/api/v1/reports/1?platform=facebook", headers=headers)).json()
    assert report["total_citations"] == 127
    assert report["citations"] and all(
        c["source"]["platform"] == "facebook" for c in report["citations"]
    )
    detail = (await client.get(f"/api/v1/sources/{world.source_id}", headers=headers)).json()
    assert [t["via"] for t in detail["timeline"]] == ["capture"]
    assert detail["timeline"][0]["state"] == "live"
    assert detail["diffs"] == []
    assert (await client.get("/api/v1/sources/99999", headers=headers)).status_code == 404
    assert (await client.get("/api/v1/reports/99999", headers=headers)).status_code == 404


async def test_csv_is_one_row_per_citation(client: httpx.AsyncClient, world: WebWorld) -> None:
    response = await client.get("/api/v1/status.csv", headers=bearer(world.tokens["viewer"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 127
    assert rows[0]["report_id"] == "1" and rows[0]["marker"] == "1"
    assert any("Кызылорд" in r["context"] or "Kyzylorda" in r["context"] for r in rows)


async def test_openapi_lists_the_api(client: httpx.AsyncClient, world: WebWorld) -> None:
    response = await client.get("/api/v1/openapi.json", headers=bearer(world.tokens["viewer"]))
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert "/api/v1/status" in paths and "/api/v1/snapshots/{snapshot_id}/warc" in paths
    assert "post" in paths["/api/v1/reports"]
    assert "HTTPBearer" in json.dumps(schema["components"]["securitySchemes"])
    docs = await client.get("/api/v1/docs", headers=bearer(world.tokens["viewer"]))
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_a_viewer_cannot_download(client: httpx.AsyncClient, world: WebWorld) -> None:
    for what in ("warc", "screenshot", "package"):
        response = await client.get(
            f"/api/v1/snapshots/{world.snapshot_id}/{what}", headers=bearer(world.tokens["viewer"])
        )
        assert response.status_code == 403, what
        assert "lawyer" in response.json()["detail"]
    with world.archive.db.session() as session:
        events = session.scalars(select(CustodyEvent)).all()
    # Adding the world's report was logged; nothing was downloaded.
    assert [e.action for e in events] == ["report_added"]


async def test_lawyer_downloads_are_exact_and_in_the_custody_log(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    headers = bearer(world.tokens["lawyer"])
    warc = await client.get(f"/api/v1/snapshots/{world.snapshot_id}/warc", headers=headers)
    assert warc.status_code == 200
    assert warc.content == world.warc_path.read_bytes()
    assert hashlib.sha256(warc.content).hexdigest() == world.warc_sha256
    assert warc.headers["x-archiver-sha256"] == world.warc_sha256
    assert "attachment" in warc.headers["content-disposition"]
    shot = await client.get(f"/api/v1/snapshots/{world.snapshot_id}/screenshot", headers=headers)
    assert shot.status_code == 200 and shot.content == PNG
    assert shot.headers["content-type"] == "image/png"

    with world.archive.db.session() as session:
        events = session.scalars(
            select(CustodyEvent).where(CustodyEvent.action == "download").order_by(CustodyEvent.seq)
        ).all()
        assert [(e.actor, e.action, e.subject_id, e.details["artefact"]) for e in events] == [
            ("web:lawyer-person", "download", world.snapshot_id, "warc"),
            ("web:lawyer-person", "download", world.snapshot_id, "screenshot"),
        ]
        assert verify_stored_chain(session).ok
    # The admin role includes the lawyer's.
    admin = await client.get(
        f"/api/v1/snapshots/{world.snapshot_id}/warc", headers=bearer(world.tokens["admin"])
    )
    assert admin.status_code == 200


async def test_package_is_503_until_the_export_exists(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    try:
        import archiver.integrity.export  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("archiver.integrity.export exists: the package is served")
    response = await client.get(
        f"/api/v1/snapshots/{world.snapshot_id}/package", headers=bearer(world.tokens["lawyer"])
    )
    assert response.status_code == 503
    assert "integrity.export" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/snapshots/..%2F..%2F..%2Fetc%2Fpasswd/warc",
        "/api/v1/snapshots/%2e%2e%2f%2e%2e%2farchiver.db/warc",
        "/api/v1/snapshots/..%5C..%5Carchiver.db/warc",
        "/api/v1/snapshots/..%2Farchiver.db/screenshot",
        "/api/v1/snapshots/%2Fetc%2Fpasswd/warc",
    ],
)
async def test_path_traversal_is_refused(
    client: httpx.AsyncClient, world: WebWorld, path: str
) -> None:
    response = await client.get(path, headers=bearer(world.tokens["admin"]))
    assert response.status_code == 404
    assert b"root:" not in response.content and b"SQLite" not in response.content
    with world.archive.db.session() as session:
        events = session.scalars(select(CustodyEvent)).all()
    # Adding the world's report was logged; nothing was downloaded.
    assert [e.action for e in events] == ["report_added"]


async def test_a_tampered_path_in_the_database_is_refused(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    from archiver.models import Snapshot

    with world.archive.db.session() as session:
        row = session.get(Snapshot, world.snapshot_id)
        assert row is not None
        row.warc_path = "../../../../../../etc/passwd"
    response = await client.get(
        f"/api/v1/snapshots/{world.snapshot_id}/warc", headers=bearer(world.tokens["lawyer"])
    )
    assert response.status_code == 404
    assert b"root:" not in response.content


async def test_revoked_token_is_refused(client: httpx.AsyncClient, world: WebWorld) -> None:
    headers = bearer(world.tokens["viewer"])
    assert (await client.get("/api/v1/reports", headers=headers)).status_code == 200
    revoke_token(world.archive.db, "viewer-person", clock=world.archive.clock)
    assert (await client.get("/api/v1/reports", headers=headers)).status_code == 401


async def test_only_admins_add_reports(client: httpx.AsyncClient, world: WebWorld) -> None:
    report = b"Detained [1].\n\n[1] https://rus.azattyq.org/a/99.html\n"
    files = {"file": ("../../etc/may.txt", report, "text/plain")}
    lawyer = await client.post(
        "/api/v1/reports", files=files, headers=bearer(world.tokens["lawyer"])
    )
    assert lawyer.status_code == 403
    added = await client.post("/api/v1/reports", files=files, headers=bearer(world.tokens["admin"]))
    assert added.status_code == 200, added.text
    body = added.json()
    assert body["citations"] == 1 and body["new_sources"] == 1
    assert body["origin"] == "web:admin-person:upload:may.txt"
    again = await client.post("/api/v1/reports", files=files, headers=bearer(world.tokens["admin"]))
    assert again.json()["already_stored"] is True
    with world.archive.db.session() as session:
        logged = [e for e in load_chain(session) if e.action == "report_added"]
    assert [(e.actor, e.subject_id) for e in logged][-1:] == [
        ("web:admin-person", str(body["report_id"]))
    ]
    assert sum(e.subject_id == str(body["report_id"]) for e in logged) == 1
    empty = await client.post("/api/v1/reports", data={}, headers=bearer(world.tokens["admin"]))
    assert empty.status_code == 422
    assert world.archive.status()["summary"]["reports"] == 2


async def test_settings_leave_secrets_out(client: httpx.AsyncClient, world: WebWorld) -> None:
    viewer = await client.get("/api/v1/settings", headers=bearer(world.tokens["viewer"]))
    assert viewer.status_code == 403
    admin = await client.get("/api/v1/settings", headers=bearer(world.tokens["admin"]))
    assert admin.status_code == 200
    assert admin.json()["web"]["port"] == 8080
    secret = (world.archive.settings.storage.root / "web" / "secret").read_text().strip()
    assert len(secret) > 40 and secret not in admin.text
    assert admin.json()["web"]["session_secret"] == ""


async def test_metrics(client: httpx.AsyncClient, world: WebWorld) -> None:
    response = await client.get("/metrics", headers=bearer(world.tokens["viewer"]))
    assert response.status_code == 200
    text = response.text
    assert 'archiver_sources{state="live"} 1.0' in text
    assert 'archiver_sources{state="pending"} 117.0' in text
    assert "archiver_captures_total 1.0" in text
    assert 'archiver_queue_depth{queue="capture"} 117.0' in text
    assert "archiver_sources_preserved 1.0" in text


def test_scoped_status_is_a_slice_of_the_whole(world: WebWorld) -> None:
    from archiver.store.status import build_status

    world.archive.add_bytes(
        b"Detained [1].\n\n[1] https://rus.azattyq.org/a/99.html\n", origin="second"
    )
    full = world.archive.status()
    db, clock = world.archive.db, world.archive.clock
    first = build_status(db, clock, report_ids=[1])
    assert first["reports"] == full["reports"][:1]
    assert first["sources"] == [s for s in full["sources"] if s["citations"][0]["report_id"] == 1]
    second = build_status(db, clock, report_ids=[2])
    assert [s["url"] for s in second["sources"]] == ["https://rus.azattyq.org/a/99.html"]
    one = build_status(db, clock, source_ids=[world.source_id])
    assert one["sources"] == [s for s in full["sources"] if s["id"] == world.source_id]
    assert [r["id"] for r in one["reports"]] == [1]
    assert one["reports"][0]["citations"] == [
        c for c in full["reports"][0]["citations"] if c["source_id"] == world.source_id
    ]
    assert one["summary"]["sources"] == 1 and one["summary"]["preserved"] == 1


async def test_pages_accept_a_bearer_header(client: httpx.AsyncClient, world: WebWorld) -> None:
    page = await client.get("/", headers=bearer(world.tokens["viewer"]))
    assert page.status_code == 200 and "1 report, 127 citations" in page.text


async def test_admins_manage_tokens_over_the_api(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    admin = bearer(world.tokens["admin"])
    assert (
        await client.get("/api/v1/tokens", headers=bearer(world.tokens["lawyer"]))
    ).status_code == 403
    listed = (await client.get("/api/v1/tokens", headers=admin)).json()
    assert [t["name"] for t in listed] == ["viewer-person", "lawyer-person", "admin-person"]
    assert not any(secret in json.dumps(listed) for secret in world.tokens.values())
    created = await client.post(
        "/api/v1/tokens", data={"name": "dana", "role": "lawyer"}, headers=admin
    )
    assert created.status_code == 200
    token = created.json()["token"]
    assert (await client.get("/api/v1/status", headers=bearer(token))).status_code == 200
    bad = await client.post("/api/v1/tokens", data={"name": "x", "role": "owner"}, headers=admin)
    assert bad.status_code == 422 and "owner" in bad.json()["detail"]
    revoked = await client.delete("/api/v1/tokens/dana", headers=admin)
    assert [t["name"] for t in revoked.json()] == ["dana"]
    assert (await client.get("/api/v1/status", headers=bearer(token))).status_code == 401
