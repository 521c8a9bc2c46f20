"""The pages load nothing from elsewhere: Swagger UI's files are served by the archiver
(finding: /api/v1/docs was blank offline, its script and style came from a CDN)."""

from __future__ import annotations

import re

import httpx

from tests.integration.web.conftest import WebWorld, bearer


async def test_api_docs_page_loads_only_its_own_files(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    page = await client.get("/api/v1/docs", headers=bearer(world.tokens["viewer"]))
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert urls, page.text
    assert not [u for u in urls if re.match(r"(https?:)?//", u)], urls
    for url in urls:
        served = await client.get(url, headers=bearer(world.tokens["viewer"]))
        assert served.status_code == 200, url
    # Everything the page may load is ours (the policy a browser enforces).
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "http" not in policy
    assert "swagger-ui-bundle.js" in page.text and "SwaggerUIBundle" in page.text


async def test_the_replay_loads_only_the_archivers_own_files(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    """The source page's replay: ReplayWeb.page's script and worker, the frame's page,
    the snapshot's WACZ, each served by the archiver; the policy names no other origin."""
    lawyer = bearer(world.tokens["lawyer"])
    page = await client.get(f"/sources/{world.source_id}", headers=lawyer)
    assert page.status_code == 200
    # What the page loads (links are followed only by a reader: not loaded).
    loaded = re.findall(r"""\s(?:src|source|replayBase)=['"]([^'"]+)['"]""", page.text)
    assert "/replay/ui.js" in loaded and f"/snapshots/{world.snapshot_id}.wacz" in loaded
    assert "/replay/" in loaded
    assert not [u for u in loaded if re.match(r"(https?:)?//", u)], loaded
    for url in {*loaded, "/replay/sw.js"}:
        served = await client.get(url, headers=lawyer)
        assert served.status_code == 200, url
    policy = page.headers["content-security-policy"]
    assert "http" not in policy and "*" not in policy
